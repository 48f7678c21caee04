using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static partial class Libc
{
    /// <summary>fcntl commands and flags used here (asm-generic/fcntl.h, the same on x86_64 and aarch64).</summary>
    public const int F_GETFD = 1, F_SETFD = 2, FD_CLOEXEC = 1, F_DUPFD_CLOEXEC = 1030;

    /// <summary>
    /// <c>int fcntl(int, int, ...)</c> with one int argument. Bound with a fixed signature: every fcntl command used
    /// here takes an int, which the Linux calling conventions pass like a fixed argument.
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);
}
