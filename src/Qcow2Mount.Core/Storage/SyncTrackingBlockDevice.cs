namespace Qcow2Mount.Core.Storage;

/// <summary>
/// Passes every call to the device it wraps and knows whether anything changed it since the last flush began
/// (writes, length changes, hole punches, zero ranges). The engine wraps its image file in one, so an ordering rule can
/// ask "is everything written so far stable?" without each writer remembering to sync (<see cref="FlushIfUnsynced"/>).
/// Thread-safe: a change is counted once it returned, and a flush covers the changes counted when it began, so a
/// change that races with a flush counts as unsynced.
/// <para>
/// Group commit: a caller that needs the changes up to a count stable (<see cref="FlushCovering"/>) waits for a
/// running flush that began at or after that count instead of starting its own, so callers that sync at once share
/// one sync. Changes made through <see cref="Data"/> (guest bytes in the image file) are counted apart from the rest
/// (metadata, <see cref="LastMetadataChange"/>), so a caller can name the metadata it depends on without the guest
/// writes other threads made meanwhile.
/// </para>
/// </summary>
internal sealed class SyncTrackingBlockDevice : IBlockDevice
{
    private readonly IBlockDevice _inner;

    /// <summary>Guards <see cref="_running"/> and the outcome of each run; waiters wait on it.</summary>
    private readonly object _gate = new();

    /// <summary>The flushes under way, each with the change count it began at.</summary>
    private readonly List<SyncRun> _running = [];
    private long _changes;
    private long _metadataChange;
    private long _synced;

    public SyncTrackingBlockDevice(IBlockDevice inner)
    {
        _inner = inner;
        Data = new DataWrites(this);
    }

    public long Length => _inner.Length;

    public bool IsReadOnly => _inner.IsReadOnly;

    public string Name => _inner.Name;

    /// <summary>True when a change was made after the start of the last completed flush.</summary>
    public bool HasUnsyncedChanges => Volatile.Read(ref _changes) != Volatile.Read(ref _synced);

    /// <summary>The changes counted so far (made through this device or <see cref="Data"/>).</summary>
    public long ChangeCount => Volatile.Read(ref _changes);

    /// <summary>The count of the last change made through this device itself rather than <see cref="Data"/>.</summary>
    public long LastMetadataChange => Volatile.Read(ref _metadataChange);

    /// <summary>
    /// The same file for guest data: its changes are counted and synced with the rest, but not as metadata. Disposing
    /// it does nothing (the file belongs to this device).
    /// </summary>
    public IBlockDevice Data { get; }

    public int Read(long offset, Span<byte> buffer) => _inner.Read(offset, buffer);

    public void Write(long offset, ReadOnlySpan<byte> data) => Write(offset, data, metadata: true);

    public void Write(long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers) => Write(offset, buffers, metadata: true);

    public void SetLength(long length)
    {
        _inner.SetLength(length);
        CountChange(metadata: true);
    }

    public void PunchHole(long offset, long length) => PunchHole(offset, length, metadata: true);

    public bool TryZeroRange(long offset, long length) => TryZeroRange(offset, length, metadata: true);

    /// <summary>Makes every change counted so far stable: by a flush of its own, or by one under way that began after them.</summary>
    public void Flush() => FlushCovering(ChangeCount, always: true);

    /// <summary>Flushes only when something changed since the last flush began (or joins a flush that covers it).</summary>
    public void FlushIfUnsynced() => FlushCovering(ChangeCount, always: false);

    /// <summary>
    /// Returns once the changes counted up to <paramref name="target"/> are stable: at once when a completed flush
    /// began at or after it; after a flush under way that began at or after it (its failure is this caller's too);
    /// otherwise after a flush of its own.
    /// </summary>
    public void FlushCovering(long target) => FlushCovering(target, always: false);

    public void Dispose() => _inner.Dispose();

    private void FlushCovering(long target, bool always)
    {
        SyncRun run;
        lock (_gate)
        {
            if (!always && Volatile.Read(ref _synced) >= target)
            {
                return;
            }

            SyncRun? covering = null;
            foreach (var r in _running)
            {
                if (r.Start >= target)
                {
                    covering = r;
                    break;
                }
            }

            if (covering is not null)
            {
                while (!covering.Done)
                {
                    Monitor.Wait(_gate);
                }

                if (covering.Failure is { } failure)
                {
                    // Its sync was this caller's too: the same error, not a second sync that could report success
                    // after the kernel dropped the pages that failed.
                    throw new IOException(failure.Message, failure);
                }

                return;
            }

            // Changes counted before the flush starts are stable once it returns; later ones may not be.
            run = new SyncRun(Volatile.Read(ref _changes));
            _running.Add(run);
        }

        Exception? error = null;
        try
        {
            _inner.Flush();
        }
        catch (Exception e)
        {
            error = e;
            throw;
        }
        finally
        {
            lock (_gate)
            {
                _running.Remove(run);
                run.Failure = error;
                run.Done = true;
                if (error is null && run.Start > Volatile.Read(ref _synced))
                {
                    Volatile.Write(ref _synced, run.Start);
                }

                Monitor.PulseAll(_gate);
            }
        }
    }

    private void Write(long offset, ReadOnlySpan<byte> data, bool metadata)
    {
        _inner.Write(offset, data);
        CountChange(metadata);
    }

    private void Write(long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers, bool metadata)
    {
        _inner.Write(offset, buffers);
        CountChange(metadata);
    }

    private void PunchHole(long offset, long length, bool metadata)
    {
        _inner.PunchHole(offset, length);
        CountChange(metadata);
    }

    private bool TryZeroRange(long offset, long length, bool metadata)
    {
        bool zeroed = _inner.TryZeroRange(offset, length);
        CountChange(metadata);
        return zeroed;
    }

    private void CountChange(bool metadata)
    {
        long count = Interlocked.Increment(ref _changes);
        if (!metadata)
        {
            return;
        }

        long last;
        do
        {
            last = Volatile.Read(ref _metadataChange);
            if (last >= count)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _metadataChange, count, last) != last);
    }

    /// <summary>One flush under way: the change count it began at, then its outcome.</summary>
    private sealed class SyncRun(long start)
    {
        public long Start { get; } = start;

        public bool Done { get; set; }

        public Exception? Failure { get; set; }
    }

    /// <summary>The file as guest data (<see cref="Data"/>): every call goes to the owner's file, counted as data.</summary>
    private sealed class DataWrites(SyncTrackingBlockDevice owner) : IBlockDevice
    {
        public long Length => owner.Length;

        public bool IsReadOnly => owner.IsReadOnly;

        public string Name => owner.Name;

        public int Read(long offset, Span<byte> buffer) => owner._inner.Read(offset, buffer);

        public void Write(long offset, ReadOnlySpan<byte> data) => owner.Write(offset, data, metadata: false);

        public void Write(long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers) => owner.Write(offset, buffers, metadata: false);

        public void SetLength(long length) => owner.SetLength(length);

        public void PunchHole(long offset, long length) => owner.PunchHole(offset, length, metadata: false);

        public bool TryZeroRange(long offset, long length) => owner.TryZeroRange(offset, length, metadata: false);

        public void Flush() => owner.Flush();

        public void Dispose()
        {
        }
    }
}
