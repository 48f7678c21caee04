using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libc
{
    /// <summary>The io_uring system calls have no glibc wrapper; their numbers are the same on x86_64 and aarch64.</summary>
    public const nint SYS_io_uring_setup = 425, SYS_io_uring_enter = 426, SYS_io_uring_register = 427;

    /// <summary><c>long syscall(long number, ...)</c> with six integer arguments (unused ones are ignored by the kernel).</summary>
    [LibraryImport(LibraryName, EntryPoint = "syscall", SetLastError = true)]
    public static partial nint Syscall(nint number, nint a1, nint a2, nint a3, nint a4, nint a5, nint a6);
}
