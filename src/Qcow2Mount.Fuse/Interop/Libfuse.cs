using System.Reflection;
using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

/// <summary>
/// Loads libfuse3 by soname (no libfuse3-dev symlink needed, fuse-notes §1). Every function is a plain
/// <see cref="LibraryImportAttribute"/>, one per file (<c>Libfuse.FuseSessionNew.cs</c>, …), whose library name the
/// resolver maps to the loaded handle. We use libfuse only to mount and unmount (it parses the mount options and runs
/// fusermount3 for unprivileged users); requests are read from its /dev/fuse descriptor and answered by our own loop
/// (<see cref="FuseHost"/>).
/// </summary>
internal static unsafe partial class Libfuse
{
    /// <summary>The name every <c>[LibraryImport]</c> in this class uses; resolved to <see cref="_handle"/>.</summary>
    internal const string LibraryName = "fuse3";

    /// <summary>The soname of the libfuse 3.x ABI this binding targets (Debian 12: 3.14).</summary>
    internal const string DefaultPath = "libfuse3.so.3";

    private static readonly object Gate = new();
    private static nint _handle;

    /// <summary>
    /// Loads the library once per process; later calls are no-ops. Throws <see cref="FuseUnavailableException"/> with a
    /// message naming the Debian package when the library or one of its functions is missing.
    /// </summary>
    public static void Load(string? path = null)
    {
        lock (Gate)
        {
            if (_handle != 0)
            {
                return;
            }

            path ??= DefaultPath;
            if (!NativeLibrary.TryLoad(path, out nint handle))
            {
                throw new FuseUnavailableException($"{path} not found: install the FUSE 3 library (apt-get install fuse3 libfuse3-3)");
            }

            if (!NativeLibrary.TryGetExport(handle, "fuse_session_new", out _) || !NativeLibrary.TryGetExport(handle, "fuse_session_fd", out _))
            {
                throw new FuseUnavailableException($"{path} lacks fuse_session_new or fuse_session_fd: libfuse 3 (soname libfuse3.so.3) is required");
            }

            NativeLibrary.SetDllImportResolver(typeof(Libfuse).Assembly, Resolve);
            _handle = handle;
        }
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == LibraryName ? _handle : 0;
}
