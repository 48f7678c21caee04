using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2.Metadata;

/// <summary>
/// A bounded LRU cache of fixed-size metadata entries (L2 table slices or refcount blocks) keyed by host offset.
/// Not thread-safe: the image's metadata lock guards it. Ordering rule enforced here: before a dirty entry of
/// this cache is written, <see cref="WriteBackPrerequisite"/> runs (for the L2 cache: make data and refcount
/// blocks stable first), so a crash never leaves an entry on disk that points at something not yet recorded.
/// </summary>
internal sealed class MetadataCache
{
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
    }

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

        var data = new byte[EntrySize];
        _file.Read(offset, data);
        Misses++;
        Validate?.Invoke(offset, data);
        Insert(offset, data, dirty: false);
        return data;
    }

    /// <summary>A new entry for a freshly allocated structure: not read, filled by the caller, marked dirty.</summary>
    public byte[] GetNew(long offset, ReadOnlySpan<byte> initial = default)
    {
        Drop(offset);
        var data = new byte[EntrySize];
        initial.CopyTo(data);
        Insert(offset, data, dirty: true);
        return data;
    }

    /// <summary>Puts an entry that was just written to disk (clean).</summary>
    public void PutClean(long offset, byte[] data)
    {
        Drop(offset);
        Insert(offset, data, dirty: false);
    }

    public bool Contains(long offset) => _entries.ContainsKey(offset);

    public void MarkDirty(long offset)
    {
        var e = _entries[offset].Value;
        if (!e.Dirty)
        {
            e.Dirty = true;
            _dirtyCount++;
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
                _file.Write(e.Offset, e.Data);
                e.Dirty = false;
                _dirtyCount--;
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

    private void Insert(long offset, byte[] data, bool dirty)
    {
        while (_entries.Count >= _capacity)
        {
            Evict();
        }

        var node = _lru.AddFirst(new Entry(offset, data) { Dirty = dirty, LastUsed = Environment.TickCount64 });
        _entries.Add(offset, node);
        PeakCount = Math.Max(PeakCount, _entries.Count);
        if (dirty)
        {
            _dirtyCount++;
        }
    }

    private void Evict()
    {
        var victim = _lru.Last!;
        if (victim.Value.Dirty)
        {
            WriteBackPrerequisite?.Invoke();
            _file.Write(victim.Value.Offset, victim.Value.Data);
            victim.Value.Dirty = false;
            _dirtyCount--;
        }

        _entries.Remove(victim.Value.Offset);
        _lru.Remove(victim);
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
        public long Offset { get; } = offset;

        public byte[] Data { get; } = data;

        public bool Dirty { get; set; }

        public long LastUsed { get; set; }
    }
}
