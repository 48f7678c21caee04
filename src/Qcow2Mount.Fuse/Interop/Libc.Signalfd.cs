using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libc
{
    /// <summary>Size of <c>struct signalfd_siginfo</c>, what one read of a signalfd returns per signal.</summary>
    public const int SignalfdSiginfoSize = 128;

    /// <summary>
    /// <c>int signalfd(int fd, const sigset_t*, int flags)</c> with fd −1: a new descriptor from which the signals of
    /// the set that are blocked in every thread are read (first field of each record: the signal number, uint32).
    /// Flags are O_CLOEXEC and O_NONBLOCK. −1 with errno.
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "signalfd", SetLastError = true)]
    public static partial int Signalfd(int fd, SigSet* set, int flags);
}
