namespace Qcow2Mount.Core.Storage;

/// <summary>
/// Passes every call to the device it wraps and knows whether anything changed it since the last flush began
/// (writes, length changes, hole punches, zero ranges). The engine wraps its image file in one, so an ordering rule can
/// ask "is everything written so far stable?" without each writer remembering to sync (<see cref="FlushIfUnsynced"/>).
/// Thread-safe: a change is counted once it returned, and a flush covers the changes counted when it began, so a
/// change that races with a flush counts as unsynced.
/// </summary>
internal sealed class SyncTrackingBlockDevice(IBlockDevice inner) : IBlockDevice
{
    private long _changes;
    private long _synced;

    public long Length => inner.Length;

    public bool IsReadOnly => inner.IsReadOnly;

    public string Name => inner.Name;

    /// <summary>True when a change was made after the start of the last completed flush.</summary>
    public bool HasUnsyncedChanges => Volatile.Read(ref _changes) != Volatile.Read(ref _synced);

    public int Read(long offset, Span<byte> buffer) => inner.Read(offset, buffer);

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        inner.Write(offset, data);
        Interlocked.Increment(ref _changes);
    }

    public void Write(long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers)
    {
        inner.Write(offset, buffers);
        Interlocked.Increment(ref _changes);
    }

    public void SetLength(long length)
    {
        inner.SetLength(length);
        Interlocked.Increment(ref _changes);
    }

    public void PunchHole(long offset, long length)
    {
        inner.PunchHole(offset, length);
        Interlocked.Increment(ref _changes);
    }

    public bool TryZeroRange(long offset, long length)
    {
        bool zeroed = inner.TryZeroRange(offset, length);
        Interlocked.Increment(ref _changes);
        return zeroed;
    }

    public void Flush()
    {
        // Changes counted before the flush starts are stable once it returns; later ones may not be.
        long changes = Volatile.Read(ref _changes);
        inner.Flush();
        long synced;
        do
        {
            synced = Volatile.Read(ref _synced);
            if (synced >= changes)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _synced, changes, synced) != synced);
    }

    /// <summary>Flushes only when something changed since the last flush began.</summary>
    public void FlushIfUnsynced()
    {
        if (HasUnsyncedChanges)
        {
            Flush();
        }
    }

    public void Dispose() => inner.Dispose();
}
