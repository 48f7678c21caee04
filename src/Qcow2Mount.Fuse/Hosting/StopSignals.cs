using System.Runtime.CompilerServices;
using Qcow2Mount.Fuse.Interop;

namespace Qcow2Mount.Fuse.Hosting;

/// <summary>
/// The stop signals (SIGHUP, SIGINT, SIGTERM) read by the serving thread itself from a signalfd. Through the runtime a
/// signal goes to its signal thread, which starts a new thread for the handlers: 0.3 ms between SIGTERM and the
/// unmount against QEMU's 0.1 (perf, ten stops each). A signalfd sees a signal only while no thread takes it: <see
/// cref="Open"/> blocks them in the calling thread before the server starts any thread (those inherit the mask, the
/// runtime's signal thread too when it is started later), <see cref="BlockOnFinalizerThread"/> in the runtime's
/// finalizer thread, which exists before Main. Where a thread still takes them (one started earlier with a mask of its
/// own), the runtime delivers them as before to the handlers registered with PosixSignalRegistration, which stay:
/// both ways end in the same place, only the fast one skips a thread start.
/// </summary>
internal sealed unsafe class StopSignals : IDisposable
{
    private const int SIGHUP = 1;
    private const int SIGINT = 2;
    private const int SIGTERM = 15;
    private const int SIG_SETMASK = 2;

    private int _fd;

    private StopSignals(int fd) => _fd = fd;

    /// <summary>Readable when a stop signal is pending.</summary>
    public int Fd => _fd;

    /// <summary>
    /// Blocks the stop signals in the calling thread and opens the signalfd; null (and the mask as it was) when the
    /// kernel refuses one, and the runtime's handlers take every signal.
    /// </summary>
    public static StopSignals? Open()
    {
        var set = SigSet.Of(SIGHUP, SIGINT, SIGTERM);
        SigSet old;
        if (Libc.PthreadSigmask(Libc.SIG_BLOCK, &set, &old) != 0)
        {
            return null;
        }

        int fd = Libc.Signalfd(-1, &set, Libc.O_CLOEXEC | Libc.O_NONBLOCK);
        if (fd < 0)
        {
            _ = Libc.PthreadSigmask(SIG_SETMASK, &old, null);
            return null;
        }

        return new StopSignals(fd);
    }

    /// <summary>
    /// Blocks the stop signals in the finalizer thread: an object made unreachable here is collected, and its
    /// finalizer runs there. One gen-0 collection of a small heap, done once the mount serves.
    /// </summary>
    public static void BlockOnFinalizerThread()
    {
        LeaveForFinalizer();
        GC.Collect(0, GCCollectionMode.Forced, blocking: true);
        GC.WaitForPendingFinalizers();
    }

    /// <summary>The next pending stop signal's number, or 0 when none is pending.</summary>
    public int Take()
    {
        byte* info = stackalloc byte[Libc.SignalfdSiginfoSize];
        return Libc.Read(_fd, info, Libc.SignalfdSiginfoSize) == Libc.SignalfdSiginfoSize ? (int)*(uint*)info : 0;
    }

    public void Dispose()
    {
        if (_fd >= 0)
        {
            _ = Libc.Close(_fd);
            _fd = -1;
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void LeaveForFinalizer() => _ = new FinalizerThreadMask();

    private sealed class FinalizerThreadMask
    {
        ~FinalizerThreadMask()
        {
            var set = SigSet.Of(SIGHUP, SIGINT, SIGTERM);
            _ = Libc.PthreadSigmask(Libc.SIG_BLOCK, &set, null);
        }
    }
}
