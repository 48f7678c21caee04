using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

/// <summary>
/// The io_uring system calls (no wrapper in glibc; numbers 425-427 on x86_64 and aarch64 alike), mmap for its rings and
/// sched_setaffinity, for the FUSE-over-io_uring transport (<see cref="Uring.FuseUring"/>).
/// </summary>
internal static unsafe partial class Libc
{
    public const nint SYS_io_uring_setup = 425, SYS_io_uring_enter = 426, SYS_io_uring_register = 427;

    public const int PROT_READ = 1, PROT_WRITE = 2, MAP_SHARED = 1, MAP_POPULATE = 0x8000;

    /// <summary><c>long syscall(long number, ...)</c> with six integer arguments (unused ones are ignored by the kernel).</summary>
    [LibraryImport(LibraryName, EntryPoint = "syscall", SetLastError = true)]
    public static partial nint Syscall(nint number, nint a1, nint a2, nint a3, nint a4, nint a5, nint a6);

    /// <summary><c>void* mmap(void*, size_t, int, int, int, off_t)</c>: (void*)-1 on failure.</summary>
    [LibraryImport(LibraryName, EntryPoint = "mmap", SetLastError = true)]
    public static partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport(LibraryName, EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(void* address, nuint length);

    /// <summary><c>int sched_setaffinity(pid_t, size_t, const cpu_set_t*)</c>; pid 0 = the calling thread.</summary>
    [LibraryImport(LibraryName, EntryPoint = "sched_setaffinity", SetLastError = true)]
    public static partial int SchedSetAffinity(int pid, nuint size, ulong* mask);
}
