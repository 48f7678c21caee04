namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// cache-clean-interval (qemu-behaviour.md §8): every interval the image drops the clean cache entries nobody used
/// for a whole interval, so an idle mount gives its metadata memory back. The timer holds the image weakly: an image
/// nobody disposed can still be collected (and its timer with it). The timer is made on a thread of its own that ends
/// right after, not in the image's open: the first timer of a process calibrates the runtime's processor-number cache
/// and starts its timer thread, 0.4 ms here (perf) that every mount and every tool run paid before the image was
/// open.
/// </summary>
internal sealed class CacheCleaner : IDisposable
{
    private readonly object _gate = new();
    private Timer? _timer;
    private bool _disposed;

    public CacheCleaner(Qcow2Image image, int intervalSeconds)
    {
        var interval = TimeSpan.FromSeconds(intervalSeconds);
        var state = (new WeakReference<Qcow2Image>(image), (long)interval.TotalMilliseconds);
        new Thread(() => Start(state, interval)) { IsBackground = true, Name = "cache-cleaner-start" }.Start();
    }

    /// <summary>True once the timer runs (tests).</summary>
    internal bool Started
    {
        get
        {
            lock (_gate)
            {
                return _timer is not null;
            }
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
