using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

/// <summary>
/// Low-level session functions (all <c>FUSE_3.0</c>, plain names). We use libfuse only to mount and unmount (it parses
/// the mount options and runs fusermount3 for unprivileged users); requests are read from its /dev/fuse descriptor
/// and answered by our own loop (<see cref="FuseHost"/>).
/// </summary>
internal static unsafe partial class Libfuse
{
    /// <summary>
    /// <c>struct fuse_session* fuse_session_new(struct fuse_args*, const struct fuse_lowlevel_ops*, size_t, void*)</c>:
    /// NULL (after printing to stderr) on unknown options.
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "fuse_session_new")]
    public static partial nint FuseSessionNew(FuseArgs* args, void* operations, nuint operationsSize, nint userData);

    /// <summary><c>int fuse_session_mount(struct fuse_session*, const char* mountpoint)</c>: 0 or -1.</summary>
    [LibraryImport(LibraryName, EntryPoint = "fuse_session_mount", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int FuseSessionMount(nint session, string mountpoint);

    /// <summary>The session's /dev/fuse descriptor (valid after a successful mount; closed by destroy).</summary>
    [LibraryImport(LibraryName, EntryPoint = "fuse_session_fd")]
    public static partial int FuseSessionFd(nint session);

    [LibraryImport(LibraryName, EntryPoint = "fuse_session_destroy")]
    public static partial void FuseSessionDestroy(nint session);

    [LibraryImport(LibraryName, EntryPoint = "fuse_opt_free_args")]
    public static partial void FuseOptFreeArgs(FuseArgs* args);
}
