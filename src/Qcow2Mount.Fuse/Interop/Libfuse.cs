using System.Reflection;
using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

/// <summary>
/// Loads libfuse3 by soname (no libfuse3-dev symlink needed) and binds the two versioned entry points by
/// <c>dlvsym</c>: <c>fuse_new@FUSE_3.1</c> and <c>fuse_loop_mt@FUSE_3.12</c> (fuse-notes §1). Every other
/// function is a plain <see cref="LibraryImportAttribute"/> whose library name the resolver maps to the loaded handle.
/// </summary>
internal static unsafe partial class Libfuse
{
    /// <summary>The name every <c>[LibraryImport]</c> in this class uses; resolved to <see cref="_handle"/>.</summary>
    internal const string LibraryName = "fuse3";

    /// <summary>The soname of the libfuse 3.x ABI this binding targets (Debian 12: 3.14).</summary>
    internal const string DefaultPath = "libfuse3.so.3";

    private static readonly object Gate = new();
    private static nint _handle;
    private static delegate* unmanaged[Cdecl]<FuseArgs*, FuseOperations*, nuint, nint, nint> _fuseNew;
    private static delegate* unmanaged[Cdecl]<nint, nint, int> _fuseLoopMt;

    /// <summary>
    /// Loads the library once per process; later calls are no-ops. Throws <see cref="FuseUnavailableException"/> with a
    /// message naming the Debian package when the library or one of its versioned symbols is missing.
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

            nint fuseNew = Libc.DlVSym(handle, "fuse_new", "FUSE_3.1");
            nint fuseLoop = Libc.DlVSym(handle, "fuse_loop_mt", "FUSE_3.12");
            if (fuseNew == 0 || fuseLoop == 0)
            {
                throw new FuseUnavailableException($"{path} lacks fuse_new@FUSE_3.1 or fuse_loop_mt@FUSE_3.12: libfuse 3.12 or newer (soname libfuse3.so.3) is required");
            }

            _fuseNew = (delegate* unmanaged[Cdecl]<FuseArgs*, FuseOperations*, nuint, nint, nint>)fuseNew;
            _fuseLoopMt = (delegate* unmanaged[Cdecl]<nint, nint, int>)fuseLoop;
            NativeLibrary.SetDllImportResolver(typeof(Libfuse).Assembly, Resolve);
            _handle = handle;
        }
    }

    /// <summary><c>fuse_new@FUSE_3.1</c>: returns NULL (after printing to stderr) on bad options.</summary>
    public static nint FuseNew(FuseArgs* args, FuseOperations* ops, nuint opSize, nint userData) => _fuseNew(args, ops, opSize, userData);

    /// <summary><c>fuse_loop_mt@FUSE_3.12</c>: 0 after unmount, a signal number, or -errno.</summary>
    public static int FuseLoopMt(nint fuse, nint loopConfig) => _fuseLoopMt(fuse, loopConfig);

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == LibraryName ? _handle : 0;
}
