using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Tools;

/// <summary>
/// Keeps the disk writing while a long copy computes: after every <see cref="Interval"/> bytes written it starts the
/// writeback of the target files (<see cref="FileBlockDevice.StartWriteBack"/>) on a thread-pool thread, one at a
/// time. Without it the page cache holds gigabytes of dirty target data (the kernel starts on its own only at a tenth
/// of the free memory) and the final sync waits for all of it with the CPUs idle. Durability is unchanged: only a
/// flush makes anything durable, and writing pages out early cannot break the engine's write order (it syncs before
/// each step that depends on earlier writes, and the kernel may write any page out at any time anyway).
/// </summary>
internal sealed class WriteBehind
{
    /// <summary>Bytes written between two starts of writeback.</summary>
    public const long Interval = 64L << 20;

    private readonly FileBlockDevice[] _files;
    private long _written;
    private int _running;

    public WriteBehind(params FileBlockDevice?[] files) => _files = [.. files.OfType<FileBlockDevice>()];

    /// <summary>Number of writebacks started so far.</summary>
    public int Started { get; private set; }

    /// <summary>Counts <paramref name="bytes"/> written; starts a writeback when that crosses a multiple of <see cref="Interval"/>.</summary>
    public void Written(long bytes)
    {
        long after = Interlocked.Add(ref _written, bytes);
        if (after / Interval == (after - bytes) / Interval || Interlocked.CompareExchange(ref _running, 1, 0) != 0)
        {
            return;
        }

        Started++;
        ThreadPool.UnsafeQueueUserWorkItem(static self => self.Run(), this, preferLocal: false);
    }

    private void Run()
    {
        try
        {
            foreach (var file in _files)
            {
                file.StartWriteBack();
            }
        }
        catch (ObjectDisposedException)
        {
            // The copy ended and closed the file while this ran: there is nothing left to hint.
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }
}
