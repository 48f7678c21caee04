using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libc
{
    /// <summary>In the child, before exec: dup2(fd, newFd) (which leaves newFd without close-on-exec).</summary>
    [LibraryImport(LibraryName, EntryPoint = "posix_spawn_file_actions_adddup2")]
    public static partial int PosixSpawnFileActionsAddDup2(void* fileActions, int fd, int newFd);
}
