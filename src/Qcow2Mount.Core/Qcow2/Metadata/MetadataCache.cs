using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2.Metadata;

/// <summary>
/// A bounded LRU cache of fixed-size metadata entries (L2 table slices or refcount blocks) keyed by host offset.
/// Not thread-safe: the image's metadata lock guards it. Ordering rule enforced here: before a dirty entry of
/// this cache is written, <see cref="WriteBackPrerequisite"/> runs (for the L2 cache: make data and refcount
/// blocks stable first), so a crash never leaves an entry on disk that points at something not yet recorded.
/// Memory: a full cache recycles the array and list node of the entry it evicts for the entry that replaces it, so a
/// workload that misses all the time (random writes over a big image) allocates nothing once the cache is full; a
/// churned 64 KiB array per miss grew the server's garbage-collected heap to three times the cache. An array handed out
/// by <see cref="Get"/> is therefore valid until <see cref="Capacity"/> − 1 further misses, i.e. for the caller's
/// current step under the metadata lock, never longer.
/// Write-back in batches: the prerequisite of a write-back costs syncs, so an eviction that meets a dirty victim pays it
/// once and writes back the <see cref="EvictionBatch"/> coldest dirty entries with it (LRU order kept, nothing dropped
/// but the victim); the evictions after it find clean victims. One prerequisite per dirty eviction made random writes
/// over a big sparse image (workload 7) cost two fsyncs per eviction, under the metadata lock.
/// Only the changed part is written back: an entry keeps the byte range changed since it was last written (two ints,
/// widened by <see cref="MarkDirty(long, int, int)"/>), and a write-back writes that range rounded out to 4 KiB pages
/// (the whole entry when it is smaller). One 16-byte L2 entry changed in a 64 KiB table cost a 64 KiB write (and its
/// sync) on every guest fsync and every eviction; now it is one page. Safe because the rest of the entry equals the
/// file: an entry is clean when read or put, and a new one (<see cref="GetNew"/>) is dirty whole.
/// </summary>
internal sealed class MetadataCache
{
    /// <summary>
    /// The share of the cache an eviction writes back at once (1/8): enough that the syncs of the prerequisite are paid
    /// once per many evictions, small enough that the stall under the metadata lock stays short (64 slices of a 32 MiB
    /// cache of 64 KiB slices: 4 MiB of page-cache writes) and hot entries, which would be dirtied again, stay dirty.
    /// </summary>
    public const int EvictionBatchDivisor = 8;

    /// <summary>The unit a partial write-back is rounded to: the host page, which a power cut keeps or loses whole.</summary>
    public const int WriteBackUnit = 4096;

    private readonly IBlockDevice _file;
    private readonly int _capacity;
    private readonly Dictionary<long, LinkedListNode<Entry>> _entries = new();
    private readonly LinkedList<Entry> _lru = new(); // most recently used first
    private int _dirtyCount;

    public MetadataCache(string name, IBlockDevice file, int entrySize, long capacityBytes)
    {
        Name = name;
        _file = file;
        EntrySize = entrySize;
        _capacity = (int)Math.Clamp(capacityBytes / entrySize, 2, int.MaxValue);
        EvictionBatch = Math.Max(1, _capacity / EvictionBatchDivisor);
    }

    /// <summary>Dirty entries written back, coldest first, by an eviction that meets a dirty victim.</summary>
    public int EvictionBatch { get; }

    public string Name { get; }

    public int EntrySize { get; }

    public int Capacity => _capacity;

    public int Count => _entries.Count;

    public int DirtyCount => _dirtyCount;

    /// <summary>The most entries held at once since the cache was made (never above <see cref="Capacity"/>).</summary>
    public int PeakCount { get; private set; }

    /// <summary>Bytes of entry data held now.</summary>
    public long Bytes => (long)_entries.Count * EntrySize;

    /// <summary>The bound on <see cref="Bytes"/>.</summary>
    public long CapacityBytes => (long)_capacity * EntrySize;

    /// <summary>Runs before any dirty entry is written back (flush or eviction).</summary>
    public Action? WriteBackPrerequisite { get; set; }

    /// <summary>Host offset of entries read from disk so far (for tests: eviction order, cache misses).</summary>
    public long Misses { get; private set; }

    /// <summary>Validates an entry just read from disk (throws for corrupt content).</summary>
    public Action<long, byte[]>? Validate { get; set; }

    /// <summary>The entry at <paramref name="offset"/>, read from disk on a miss.</summary>
    public byte[] Get(long offset)
    {
        if (_entries.TryGetValue(offset, out var node))
        {
            Touch(node);
            node.Value.LastUsed = Environment.TickCount64;
            return node.Value.Data;
        }

        var recycled = MakeRoom();
        var data = recycled?.Value.Data ?? new byte[EntrySize];
        try
        {
            _file.Read(offset, data);
            Misses++;
            Validate?.Invoke(offset, data);
        }
        catch
        {
            data.AsSpan().Clear(); // never leave another table's bytes in an array someone may still see
            throw;
        }

        Insert(offset, recycled, data, dirty: false);
        return data;
    }

    /// <summary>A new entry for a freshly allocated structure: not read, filled by the caller, marked dirty.</summary>
    public byte[] GetNew(long offset, ReadOnlySpan<byte> initial = default)
    {
        Drop(offset);
        var recycled = MakeRoom();
        var data = recycled?.Value.Data ?? new byte[EntrySize];
        data.AsSpan().Clear();
        initial.CopyTo(data);
        Insert(offset, recycled, data, dirty: true);
        return data;
    }

    /// <summary>Puts an entry that was just written to disk (clean).</summary>
    public void PutClean(long offset, byte[] data)
    {
        Drop(offset);
        Insert(offset, MakeRoom(), data, dirty: false);
    }

    /// <summary>Puts a copy of <paramref name="content"/> (<see cref="EntrySize"/> bytes just written to disk) as a clean entry, in a recycled array when the cache is full.</summary>
    public void PutCleanCopy(long offset, ReadOnlySpan<byte> content)
    {
        Drop(offset);
        var recycled = MakeRoom();
        var data = recycled?.Value.Data ?? new byte[EntrySize];
        content.CopyTo(data);
        Insert(offset, recycled, data, dirty: false);
    }

    public bool Contains(long offset) => _entries.ContainsKey(offset);

    /// <summary>Marks the whole entry changed.</summary>
    public void MarkDirty(long offset) => MarkDirty(offset, 0, EntrySize);

    /// <summary>Marks <paramref name="length"/> bytes at <paramref name="start"/> of the entry changed (written back with the rest of its changes).</summary>
    public void MarkDirty(long offset, int start, int length)
    {
        var e = _entries[offset].Value;
        if (!e.Dirty)
        {
            e.Dirty = true;
            _dirtyCount++;
            e.DirtyStart = start;
            e.DirtyEnd = start + length;
        }
        else
        {
            e.DirtyStart = Math.Min(e.DirtyStart, start);
            e.DirtyEnd = Math.Max(e.DirtyEnd, start + length);
        }
    }

    /// <summary>Writes every dirty entry (after the prerequisite); does not flush the file.</summary>
    public void WriteDirty()
    {
        if (_dirtyCount == 0)
        {
            return;
        }

        WriteBackPrerequisite?.Invoke();
        foreach (var e in _lru.OrderBy(e => e.Offset))
        {
            if (e.Dirty)
            {
                WriteBack(e);
            }
        }
    }

    /// <summary>Drops an entry without writing it (its cluster was freed).</summary>
    public void Drop(long offset)
    {
        if (_entries.Remove(offset, out var node))
        {
            if (node.Value.Dirty)
            {
                _dirtyCount--;
            }

            _lru.Remove(node);
        }
    }

    /// <summary>Drops clean entries not used for <paramref name="idleMilliseconds"/> (cache-clean-interval).</summary>
    public int DropIdle(long idleMilliseconds)
    {
        long now = Environment.TickCount64;
        int dropped = 0;
        for (var node = _lru.Last; node is not null;)
        {
            var prev = node.Previous;
            if (!node.Value.Dirty && now - node.Value.LastUsed >= idleMilliseconds)
            {
                _entries.Remove(node.Value.Offset);
                _lru.Remove(node);
                dropped++;
            }

            node = prev;
        }

        return dropped;
    }

    /// <summary>Evicts until there is room for one entry; returns the last evicted node (its array and node to reuse), or null.</summary>
    private LinkedListNode<Entry>? MakeRoom()
    {
        LinkedListNode<Entry>? victim = null;
        while (_entries.Count >= _capacity)
        {
            victim = Evict();
        }

        return victim;
    }

    private void Insert(long offset, LinkedListNode<Entry>? recycled, byte[] data, bool dirty)
    {
        while (_entries.Count >= _capacity)
        {
            recycled = Evict();
        }

        LinkedListNode<Entry> node;
        if (recycled is not null && recycled.Value.Data.Length == data.Length)
        {
            recycled.Value.Reset(offset, data);
            node = recycled;
            _lru.AddFirst(node);
        }
        else
        {
            node = _lru.AddFirst(new Entry(offset, data));
        }

        node.Value.Dirty = dirty;
        node.Value.DirtyStart = 0;
        node.Value.DirtyEnd = dirty ? EntrySize : 0;
        node.Value.LastUsed = Environment.TickCount64;
        _entries.Add(offset, node);
        PeakCount = Math.Max(PeakCount, _entries.Count);
        if (dirty)
        {
            _dirtyCount++;
        }
    }

    private LinkedListNode<Entry> Evict()
    {
        var victim = _lru.Last!;
        if (victim.Value.Dirty)
        {
            WriteBackColdest();
        }

        _entries.Remove(victim.Value.Offset);
        _lru.Remove(victim);
        return victim;
    }

    /// <summary>
    /// The prerequisite once, then the <see cref="EvictionBatch"/> least recently used dirty entries (the victim first),
    /// written back and kept as clean entries in their LRU places. Walks the list: no allocation.
    /// </summary>
    private void WriteBackColdest()
    {
        WriteBackPrerequisite?.Invoke();
        int left = EvictionBatch;
        for (var node = _lru.Last; node is not null && left > 0; node = node.Previous)
        {
            var e = node.Value;
            if (e.Dirty)
            {
                WriteBack(e);
                left--;
            }
        }
    }

    /// <summary>Writes the changed pages of a dirty entry and marks it clean.</summary>
    private void WriteBack(Entry e)
    {
        int unit = Math.Min(WriteBackUnit, EntrySize);
        int start = e.DirtyStart / unit * unit;
        int end = Math.Min(EntrySize, (e.DirtyEnd + unit - 1) / unit * unit);
        _file.Write(e.Offset + start, e.Data.AsSpan(start, end - start));
        e.Dirty = false;
        _dirtyCount--;
    }

    private void Touch(LinkedListNode<Entry> node)
    {
        if (node != _lru.First)
        {
            _lru.Remove(node);
            _lru.AddFirst(node);
        }
    }

    private sealed class Entry(long offset, byte[] data)
    {
        public long Offset { get; private set; } = offset;

        public byte[] Data { get; private set; } = data;

        public void Reset(long offset, byte[] data)
        {
            Offset = offset;
            Data = data;
        }

        public bool Dirty { get; set; }

        /// <summary>The changed bytes, [start, end), while <see cref="Dirty"/>.</summary>
        public int DirtyStart { get; set; }

        public int DirtyEnd { get; set; }

        public long LastUsed { get; set; }
    }
}
