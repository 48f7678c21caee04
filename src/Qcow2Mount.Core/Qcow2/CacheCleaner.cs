namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// cache-clean-interval (qemu-behaviour.md §8): every interval the image drops the clean cache entries nobody used
/// for a whole interval, so an idle mount gives its metadata memory back. The timer holds the image weakly: an image
/// nobody disposed can still be collected (and its timer with it). The first timer of a process is made on a thread of
/// its own that ends right after, not in the image's open: it calibrates the runtime's processor-number cache and
/// starts the timer thread, 0.4 ms here (perf) that every mount and every tool run paid before its image was open.
/// Later timers are cheap and made in place.
/// </summary>
internal sealed class CacheCleaner : IDisposable
{
    /// <summary>Whether the process's first cleaner was made (only that one is slow to make).</summary>
    private static int _firstMade;

    private readonly object _gate = new();
    private Timer? _timer;
    private bool _disposed;

    public CacheCleaner(Qcow2Image image, int intervalSeconds)
    {
        var interval = TimeSpan.FromSeconds(intervalSeconds);
        var state = (new WeakReference<Qcow2Image>(image), (long)interval.TotalMilliseconds);
        if (Interlocked.Exchange(ref _firstMade, 1) == 0)
        {
            new Thread(() => Start(state, interval)) { IsBackground = true, Name = "cache-cleaner-start" }.Start();
        }
        else
        {
            Start(state, interval);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _timer?.Dispose();
        }
    }

    private void Start((WeakReference<Qcow2Image> Image, long IdleMilliseconds) state, TimeSpan interval)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return; // the image was closed first (a tool's short run)
            }

            _timer = new Timer(
                static s =>
                {
                    var (image, idle) = ((WeakReference<Qcow2Image>, long))s!;
                    if (image.TryGetTarget(out var target))
                    {
                        target.CleanCaches(idle);
                    }
                },
                state,
                interval,
                interval);
        }
    }
}
