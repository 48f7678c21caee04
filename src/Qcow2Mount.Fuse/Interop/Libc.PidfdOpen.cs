namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libc
{
    /// <summary>pidfd_open(2) (Linux 5.3+) has no glibc wrapper before 2.36; its number is the same on x86_64 and aarch64.</summary>
    public const nint SYS_pidfd_open = 434;

    /// <summary>poll events bit: data to read (on a pidfd: the process has exited, a zombie counts).</summary>
    public const short POLLIN = 0x1;

    /// <summary>A descriptor that becomes readable when process <paramref name="pid"/> exits; −1 (errno set) when the kernel has none.</summary>
    public static int PidfdOpen(int pid) => (int)Syscall(SYS_pidfd_open, pid, 0, 0, 0, 0, 0);
}
