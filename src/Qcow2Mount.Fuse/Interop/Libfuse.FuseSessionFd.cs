using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libfuse
{
    /// <summary>The session's /dev/fuse descriptor (valid after a successful mount; closed by destroy).</summary>
    [LibraryImport(LibraryName, EntryPoint = "fuse_session_fd")]
    public static partial int FuseSessionFd(nint session);
}
