using System.Runtime.InteropServices;
using System.Text;

namespace Qcow2Mount.Fuse.Interop;

/// <summary>
/// Loads libfuse3 by soname (no libfuse3-dev symlink needed, fuse-notes §1) and calls its five functions through
/// pointers taken from the loaded library: no import resolver, so the first call does not start the runtime's
/// reflection-based library binding (0.2-0.4 ms of every mount's start, perf). We use libfuse only to mount and
/// unmount (it parses the mount options and runs fusermount3 for unprivileged users); requests are read from its
/// /dev/fuse descriptor and answered by our own loop (<see cref="FuseHost"/>).
/// </summary>
internal static unsafe class Libfuse
{
    /// <summary>The soname of the libfuse 3.x ABI this binding targets (Debian 12: 3.14).</summary>
    internal const string DefaultPath = "libfuse3.so.3";

    private static readonly object Gate = new();
    private static nint _handle;
    private static delegate* unmanaged<FuseArgs*, void*, nuint, nint, nint> _sessionNew;
    private static delegate* unmanaged<nint, byte*, int> _sessionMount;
    private static delegate* unmanaged<nint, int> _sessionFd;
    private static delegate* unmanaged<nint, void> _sessionDestroy;
    private static delegate* unmanaged<FuseArgs*, void> _optFreeArgs;

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

            nint Export(string name) => NativeLibrary.TryGetExport(handle, name, out nint address)
                ? address
                : throw new FuseUnavailableException($"{path} lacks {name}: libfuse 3 (soname libfuse3.so.3) is required");

            _sessionNew = (delegate* unmanaged<FuseArgs*, void*, nuint, nint, nint>)Export("fuse_session_new");
            _sessionMount = (delegate* unmanaged<nint, byte*, int>)Export("fuse_session_mount");
            _sessionFd = (delegate* unmanaged<nint, int>)Export("fuse_session_fd");
            _sessionDestroy = (delegate* unmanaged<nint, void>)Export("fuse_session_destroy");
            _optFreeArgs = (delegate* unmanaged<FuseArgs*, void>)Export("fuse_opt_free_args");
            _handle = handle;
        }
    }

    /// <summary>
    /// <c>struct fuse_session* fuse_session_new(struct fuse_args*, const struct fuse_lowlevel_ops*, size_t, void*)</c>:
    /// NULL (after printing to stderr) on unknown options.
    /// </summary>
    public static nint FuseSessionNew(FuseArgs* args, void* operations, nuint operationsSize, nint userData) =>
        _sessionNew(args, operations, operationsSize, userData);

    /// <summary><c>int fuse_session_mount(struct fuse_session*, const char* mountpoint)</c>: 0 or -1.</summary>
    public static int FuseSessionMount(nint session, string mountpoint)
    {
        byte[] utf8 = new byte[Encoding.UTF8.GetByteCount(mountpoint) + 1];
        Encoding.UTF8.GetBytes(mountpoint, utf8);
        fixed (byte* p = utf8)
        {
            return _sessionMount(session, p);
        }
    }

    /// <summary>The session's /dev/fuse descriptor (valid after a successful mount; closed by destroy).</summary>
    public static int FuseSessionFd(nint session) => _sessionFd(session);

    public static void FuseSessionDestroy(nint session) => _sessionDestroy(session);

    public static void FuseOptFreeArgs(FuseArgs* args) => _optFreeArgs(args);
}
