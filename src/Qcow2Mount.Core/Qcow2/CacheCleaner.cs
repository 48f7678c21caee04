namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// cache-clean-interval (qemu-behaviour.md §8): every interval the image drops the clean cache entries nobody used
/// for a whole interval, so an idle mount gives its metadata memory back. The timer holds the image weakly: an image
/// nobody disposed can still be collected (and its timer with it).
/// </summary>
internal sealed class CacheCleaner : IDisposable
{
    private readonly Timer _timer;

    public CacheCleaner(Qcow2Image image, int intervalSeconds)
    {
        var interval = TimeSpan.FromSeconds(intervalSeconds);
        _timer = new Timer(
            static state =>
            {
                var (image, idle) = ((WeakReference<Qcow2Image>, long))state!;
                if (image.TryGetTarget(out var target))
                {
                    target.CleanCaches(idle);
                }
            },
            (new WeakReference<Qcow2Image>(image), (long)interval.TotalMilliseconds),
            interval,
            interval);
    }

    public void Dispose() => _timer.Dispose();
}
