using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libc
{
    /// <summary>
    /// Bytes enough for glibc's <c>posix_spawn_file_actions_t</c> (80 on x86-64 and aarch64: two ints, a pointer, 16
    /// ints of padding); the block handed to the PosixSpawnFileActions* functions is this size.
    /// </summary>
    public const int PosixSpawnFileActionsSize = 128;

    /// <summary>
    /// <c>int posix_spawn(pid_t*, const char* path, const posix_spawn_file_actions_t*, const posix_spawnattr_t*,
    /// char* const argv[], char* const envp[])</c>: 0, or an error number (not errno).
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "posix_spawn")]
    public static partial int PosixSpawn(out int pid, byte* path, void* fileActions, void* attributes, byte** argv, byte** envp);
}
