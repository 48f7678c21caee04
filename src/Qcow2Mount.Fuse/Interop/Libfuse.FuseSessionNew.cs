using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libfuse
{
    /// <summary>
    /// <c>struct fuse_session* fuse_session_new(struct fuse_args*, const struct fuse_lowlevel_ops*, size_t, void*)</c>:
    /// NULL (after printing to stderr) on unknown options.
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "fuse_session_new")]
    public static partial nint FuseSessionNew(FuseArgs* args, void* operations, nuint operationsSize, nint userData);
}
