using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libc
{
    /// <summary>
    /// Bytes enough for glibc's <c>posix_spawn_file_actions_t</c> (80 on x86-64 and aarch64: two ints, a pointer, 16
    /// ints of padding); the block handed to the functions below is this size.
    /// </summary>
    public const int PosixSpawnFileActionsSize = 128;

    /// <summary>
    /// <c>int posix_spawn(pid_t*, const char* path, const posix_spawn_file_actions_t*, const posix_spawnattr_t*,
    /// char* const argv[], char* const envp[])</c>: 0, or an error number (not errno).
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "posix_spawn")]
    public static partial int PosixSpawn(out int pid, byte* path, void* fileActions, void* attributes, byte** argv, byte** envp);

    [LibraryImport(LibraryName, EntryPoint = "posix_spawn_file_actions_init")]
    public static partial int PosixSpawnFileActionsInit(void* fileActions);

    [LibraryImport(LibraryName, EntryPoint = "posix_spawn_file_actions_destroy")]
    public static partial int PosixSpawnFileActionsDestroy(void* fileActions);

    /// <summary>In the child, before exec: dup2(fd, newFd) (which leaves newFd without close-on-exec).</summary>
    [LibraryImport(LibraryName, EntryPoint = "posix_spawn_file_actions_adddup2")]
    public static partial int PosixSpawnFileActionsAddDup2(void* fileActions, int fd, int newFd);

    /// <summary>In the child, before exec: open(path, flags, mode) as descriptor <paramref name="fd"/>.</summary>
    [LibraryImport(LibraryName, EntryPoint = "posix_spawn_file_actions_addopen")]
    public static partial int PosixSpawnFileActionsAddOpen(void* fileActions, int fd, byte* path, int flags, uint mode);

    /// <summary><c>int pipe2(int[2], int flags)</c>: 0, or −1 with errno.</summary>
    [LibraryImport(LibraryName, EntryPoint = "pipe2", SetLastError = true)]
    public static partial int Pipe2(int* fds, int flags);

    /// <summary><c>pid_t waitpid(pid_t, int* status, int options)</c>: the pid, or −1 with errno.</summary>
    [LibraryImport(LibraryName, EntryPoint = "waitpid", SetLastError = true)]
    public static partial int WaitPid(int pid, out int status, int options);

    /// <summary><c>int kill(pid_t, int signal)</c>: 0, or −1 with errno.</summary>
    [LibraryImport(LibraryName, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);

    public const int O_CLOEXEC = 0x80000, SIGKILL = 9;
}
