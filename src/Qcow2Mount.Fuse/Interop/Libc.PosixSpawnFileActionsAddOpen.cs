using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libc
{
    /// <summary>In the child, before exec: open(path, flags, mode) as descriptor <paramref name="fd"/>.</summary>
    [LibraryImport(LibraryName, EntryPoint = "posix_spawn_file_actions_addopen")]
    public static partial int PosixSpawnFileActionsAddOpen(void* fileActions, int fd, byte* path, int flags, uint mode);
}
