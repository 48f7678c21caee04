using System.Buffers.Binary;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2.Allocation;

/// <summary>
/// Owns the refcount table and refcount blocks (spec §5, §6): reads and changes refcounts, allocates host
/// clusters first-fit, creates self-describing refcount blocks and grows the refcount table. It never touches the
/// header: a table that moved is returned to the caller (<see cref="AllocatedRun.MovedTable"/>), who writes it.
/// Caller holds the image's metadata lock.
/// Ordering rules enforced here:
/// <list type="bullet">
/// <item>A new refcount block is written and flushed before the refcount table entry that points at it.</item>
/// <item>A new refcount table (with its blocks) is written and flushed before it is returned to be named by the header.</item>
/// <item>Freeing runs backwards. A refcount only goes down in <see cref="ApplyDeferredFrees"/>, which first runs
/// <see cref="BeforeDecrements"/>: the image writes back its L2 slices and syncs the file, so every L1/L2/header change
/// that removed a reference is stable before the count that included it drops. Callers only
/// <see cref="ScheduleFree"/>; nothing else lowers a refcount. A crash then leaks at worst.</item>
/// </list>
/// Length rule: while the image is open the file only grows, and only to <see cref="_allocatedEnd"/>. Data writes run
/// without the metadata lock and grow the file themselves, so a length this class reads may already be stale when it
/// acts on it; an ftruncate to anything less than the end of every allocated cluster could cut off data that another
/// thread has just written (a lost write that reads back as zeros). No guest data or metadata lies past that end.
/// (A shrinking resize cuts the file, but it holds every guest range and ends writing through the instance.)
/// </summary>
internal sealed class RefcountManager
{
    /// <summary>
    /// How far past the end of the file (1 GiB) the allocator keeps scanning clusters that refcounts claim are in
    /// use. Every allocation extends the file to cover it, so in a sound image only the leaks of a crash lie beyond
    /// the end; a hostile table (every block full, or all entries naming one full block) would otherwise send the
    /// first-fit search through up to 2^44 clusters, or grow the file by terabytes.
    /// </summary>
    private const long MaxUsedBytesPastEnd = 1L << 30;

    private readonly IBlockDevice _file;
    private readonly ClusterGeometry _geo;
    private readonly List<HostCluster> _deferredFrees = new();

    /// <summary>Refcount table indexes whose new block exists in the cache and in <see cref="_table"/> but not yet on disk.</summary>
    private readonly List<long> _unwrittenTableEntries = new();

    /// <summary>
    /// The end of the highest cluster allocated while the image is open, or the file's length at open if that is
    /// more: every byte anyone may write to the file lies below it, so it is the only length the file is ever set to.
    /// </summary>
    private long _allocatedEnd;
    private ulong[] _table;
    private RefcountTableLocation _location;
    private HostCluster _freeCluster = new(1);

    /// <summary>Set by <see cref="GrowTable"/> until the public call that caused it returns it.</summary>
    private RefcountTableLocation? _movedTable;

    /// <summary>Refcount table entries found bad by <see cref="ValidateTable"/>, with the reason; they fail when used.</summary>
    private Dictionary<long, string>? _badEntries;

    public RefcountManager(IBlockDevice file, ClusterGeometry geometry, RefcountTableLocation location, ulong[] table, MetadataCache blocks)
    {
        _file = file;
        _geo = geometry;
        _location = location;
        _table = table;
        Blocks = blocks;
        _allocatedEnd = file.Length;
    }

    public MetadataCache Blocks { get; }

    public IReadOnlyList<ulong> Table => _table;

    /// <summary>Where the refcount table is now (moved by growth; the header names it once the caller wrote it).</summary>
    public RefcountTableLocation Location => _location;

    public int DeferredFreeCount => _deferredFrees.Count;

    /// <summary>True when new blocks are not yet named by the on-disk refcount table.</summary>
    public bool HasUnwrittenTableEntries => _unwrittenTableEntries.Count > 0;

    /// <summary>Called with every run of clusters newly taken by the allocator (metadata regions, statistics).</summary>
    public Action<HostCluster, long>? Allocated { get; set; }

    /// <summary>Runs before any refcount, refcount block or refcount table changes (the image sets its dirty bit there).</summary>
    public Action? BeforeChange { get; set; }

    /// <summary>Called with a cluster whose refcount reached 0 (drop cached copies, punch the hole).</summary>
    public Action<HostCluster>? Freed { get; set; }

    /// <summary>
    /// Runs before deferred decrements are applied: must leave every reference removal made so far on stable storage
    /// (the ordering rule that makes freeing safe lives here, not at the call sites of <see cref="ScheduleFree"/>).
    /// </summary>
    public Action? BeforeDecrements { get; set; }

    public ulong GetRefcount(HostCluster cluster)
    {
        long tableIndex = _geo.RefcountTableIndex(cluster);
        if (tableIndex >= _table.Length)
        {
            return 0;
        }

        var block = BlockOffset(tableIndex);
        if (block.Value == 0)
        {
            return 0;
        }

        return RefcountBlock.Get(Blocks.Get(block.Value), _geo.RefblockIndex(cluster), _geo.RefcountOrder);
    }

    /// <summary>One more reference to an allocated cluster (a compressed cluster sharing its host cluster).</summary>
    /// <returns>The refcount table's new location when it had to move (never in practice: the block exists).</returns>
    public RefcountTableLocation? AddReference(HostCluster cluster)
    {
        Update(cluster, 1);
        return TakeMovedTable();
    }

    /// <summary>Allocates <paramref name="count"/> contiguous free clusters with refcount 1.</summary>
    /// <param name="writtenWhole">
    /// The caller writes every byte of the run before anything refers to it, and that write grows the file: no
    /// ftruncate here. (One per new cluster on the copy-on-write path cost 7 % of the wall time at QD1 and sat in
    /// ext4's journal while a commit ran; QEMU grows the file by writing too.)
    /// </param>
    /// <param name="growLater">
    /// The caller writes part of the run before anything in memory refers to it (a data cluster: the guest data
    /// lands at or after its start, so the cluster's first byte is inside the file by then); the rest of the file
    /// growth waits for <see cref="GrowFileToAllocated"/>, which the flush path runs before anything on disk names
    /// the run. One ftruncate per new cluster was 29 % of the time of 4 KiB writes into new extended-L2 clusters.
    /// </param>
    public AllocatedRun Allocate(int count, bool writtenWhole = false, bool growLater = false)
    {
        while (true)
        {
            var start = FindFreeRun(count);
            if (!EnsureBlocks(start, count))
            {
                continue; // a new refcount block took a cluster of the run: search again
            }

            for (var c = start; c < start + count; c = c.Next)
            {
                Update(c, 1);
            }

            if (start == _freeCluster)
            {
                _freeCluster = start + count;
            }

            NoteAllocated(start, count);
            long end = _geo.StartOf(start + count).Value;
            if (!writtenWhole && !growLater && _file.Length < end)
            {
                // Keep the file long enough for every allocated cluster, as qemu-img check expects.
                GrowFileToAllocated();
            }

            return new AllocatedRun(_geo.StartOf(start), TakeMovedTable());
        }
    }

    /// <summary>
    /// Checks every refcount table entry once (open time): reserved bits clear, cluster-aligned, inside the file,
    /// clear of the fixed metadata <paramref name="regions"/> and of each other. A bad entry fails only the
    /// operations that need it (<see cref="ImageCorruptException"/>), as QEMU does, so reads still work.
    /// </summary>
    public void ValidateTable(IReadOnlyList<(string Name, long Start, long End)> regions)
    {
        long fileLength = _file.Length;
        var seen = new HashSet<long>();
        for (long t = 0; t < _table.Length; t++)
        {
            if (_table[t] == 0)
            {
                continue;
            }

            var entry = new RefcountTableEntry(_table[t]);
            long offset = entry.Block.Value;
            string? problem = null;
            if (entry.HasReservedBits)
            {
                problem = "has reserved bits set";
            }
            else if ((ulong)offset >= (ulong)fileLength)
            {
                problem = "lies beyond the end of the file";
            }
            else if (!_geo.IsClusterAligned(entry.Block))
            {
                problem = "is not cluster-aligned";
            }
            else if (!seen.Add(offset))
            {
                problem = "is named by two refcount table entries";
            }
            else
            {
                foreach (var r in regions)
                {
                    if (offset < r.End && r.Start < offset + _geo.ClusterSize)
                    {
                        problem = $"overlaps the {r.Name}";
                        break;
                    }
                }
            }

            if (problem is not null)
            {
                (_badEntries ??= new())[t] = $"refcount table entry {t} (0x{_table[t]:x16}) {problem}";
            }
        }
    }

    /// <summary>Remembers a reference that was removed; its refcount drops in <see cref="ApplyDeferredFrees"/>.</summary>
    public void ScheduleFree(HostCluster cluster) => _deferredFrees.Add(cluster);

    /// <summary>Applies deferred decrements, after <see cref="BeforeDecrements"/> made the removed references stable.</summary>
    public void ApplyDeferredFrees()
    {
        if (_deferredFrees.Count == 0)
        {
            return;
        }

        BeforeDecrements?.Invoke();
        // Take the list first: if one decrement meets corruption, the rest are dropped (a leak, which is safe)
        // rather than retried later, which would apply the ones before it twice.
        var frees = _deferredFrees.ToArray();
        _deferredFrees.Clear();
        foreach (var c in frees)
        {
            Update(c, -1);
        }
    }

    /// <summary>
    /// Grows the file to the end of every allocated cluster (one ftruncate for all those allocated with <c>growLater</c>),
    /// so the refcount blocks and L2 tables written after this never name a cluster that ends past the end of the file.
    /// Never shrinks it: the cached length may trail a data write still in flight, and the target covers that write.
    /// </summary>
    public void GrowFileToAllocated()
    {
        if (_allocatedEnd > _file.Length)
        {
            _file.SetLength(_allocatedEnd);
        }
    }

    /// <summary>
    /// Writes the table entries of new blocks. Call only when those blocks are stable on disk (written back and
    /// synced), and sync afterwards before anything that relies on the new refcounts is written.
    /// </summary>
    public void WriteUnwrittenTableEntries()
    {
        Span<byte> entry = stackalloc byte[8];
        foreach (long t in _unwrittenTableEntries)
        {
            BinaryPrimitives.WriteUInt64BigEndian(entry, _table[t]);
            _file.Write(_location.Offset.Value + (t * 8), entry);
        }

        _unwrittenTableEntries.Clear();
    }

    private RefcountTableLocation? TakeMovedTable()
    {
        var moved = _movedTable;
        _movedTable = null;
        return moved;
    }

    /// <summary>Adds <paramref name="delta"/> to a cluster's refcount (its block must exist for increments).</summary>
    private void Update(HostCluster cluster, long delta)
    {
        BeforeChange?.Invoke();
        long tableIndex = _geo.RefcountTableIndex(cluster);
        var block = tableIndex < _table.Length ? BlockOffset(tableIndex) : default;
        if (block.Value == 0)
        {
            if (delta < 0)
            {
                throw BelowZero(cluster);
            }

            EnsureBlocks(cluster, 1);
            block = BlockOffset(tableIndex);
        }

        var data = Blocks.Get(block.Value);
        int index = _geo.RefblockIndex(cluster);
        ulong old = RefcountBlock.Get(data, index, _geo.RefcountOrder);
        ulong value = unchecked(old + (ulong)delta);
        if (delta < 0 && old < (ulong)(-delta))
        {
            throw BelowZero(cluster);
        }

        if (delta > 0 && (value > _geo.MaxRefcount || value < old))
        {
            var offset = _geo.StartOf(cluster);
            throw new ImageCorruptException($"{_file.Name}: refcount of cluster {offset} would exceed {_geo.MaxRefcount}", hostOffset: offset.Value);
        }

        RefcountBlock.Set(data, index, _geo.RefcountOrder, value);
        Blocks.MarkDirty(block.Value, (int)(((long)index << _geo.RefcountOrder) >> 3), Math.Max(1, (1 << _geo.RefcountOrder) >> 3));
        if (value == 0)
        {
            if (cluster < _freeCluster)
            {
                _freeCluster = cluster;
            }

            Freed?.Invoke(cluster);
        }
    }

    private ImageCorruptException BelowZero(HostCluster cluster)
    {
        var offset = _geo.StartOf(cluster);
        return new ImageCorruptException($"{_file.Name}: refcount of cluster {offset} would drop below zero", hostOffset: offset.Value);
    }

    private HostOffset BlockOffset(long tableIndex)
    {
        var entry = new RefcountTableEntry(_table[tableIndex]);
        if (_badEntries is not null && _badEntries.TryGetValue(tableIndex, out string? problem))
        {
            throw new ImageCorruptException($"{_file.Name}: {problem}", hostOffset: entry.Block.Value);
        }

        return entry.Block;
    }

    private HostCluster FindFreeRun(int count)
    {
        var c = _freeCluster;
        var runStart = c;
        int run = 0;
        var limit = _geo.ClusterEnd(_file.Length) + Math.Max(MaxUsedBytesPastEnd >> _geo.ClusterBits, 64);
        while (run < count)
        {
            if (c > limit)
            {
                var offset = _geo.StartOf(c);
                throw new ImageCorruptException($"{_file.Name}: refcounts claim clusters in use more than {MaxUsedBytesPastEnd >> 20} MiB past the end of the file (at {offset})", hostOffset: offset.Value);
            }

            if (GetRefcount(c) == 0)
            {
                if (run == 0)
                {
                    runStart = c;
                }

                run++;
            }
            else
            {
                run = 0;
                if (c == _freeCluster)
                {
                    _freeCluster = c.Next;
                }
            }

            c = c.Next;
        }

        return runStart;
    }

    /// <summary>
    /// Makes sure refcount blocks exist for clusters [start, start+count). Returns false if it had to create one
    /// (placed inside the run, self-describing), so the caller searches again.
    /// </summary>
    private bool EnsureBlocks(HostCluster start, int count)
    {
        bool unchanged = true;
        long firstTable = _geo.RefcountTableIndex(start);
        long lastTable = _geo.RefcountTableIndex(start + (count - 1));
        for (long t = firstTable; t <= lastTable; t++)
        {
            if (t >= _table.Length)
            {
                GrowTable(t);
                unchanged = false;
            }

            if (BlockOffset(t).Value == 0)
            {
                // Every cluster this block will describe is free (no block = refcount 0), so the block can sit
                // on the first of them and describe itself.
                var first = _geo.FirstClusterOfRefblock(t);
                CreateBlock(t, start > first ? start : first);
                unchanged = false;
            }
        }

        return unchanged;
    }

    /// <summary>
    /// A new refcount block, dirty in the cache; its table entry goes to disk with the next write-back of the
    /// refcounts (<see cref="WriteUnwrittenTableEntries"/>, after the blocks are stable). Writing and syncing it here
    /// made the request that crossed into a new block's range wait for every dirty byte of the image: measured
    /// 4.0 s at 2 GiB of dirty data (64 KiB clusters, the image growing past 2 GiB). Until then nothing on disk
    /// refers to the block or to a cluster it describes: L2 entries are written back only after the refcounts.
    /// </summary>
    private void CreateBlock(long tableIndex, HostCluster place)
    {
        BeforeChange?.Invoke();
        var offset = _geo.StartOf(place);
        var data = Blocks.GetNew(offset.Value);
        RefcountBlock.Set(data, _geo.RefblockIndex(place), _geo.RefcountOrder, 1);
        _table[tableIndex] = RefcountTableEntry.For(offset).Raw;
        _unwrittenTableEntries.Add(tableIndex);
        NoteAllocated(place, 1);
    }

    /// <summary>Every allocation goes through here: <see cref="_allocatedEnd"/> must cover it before anyone writes to it.</summary>
    private void NoteAllocated(HostCluster first, long count)
    {
        _allocatedEnd = Math.Max(_allocatedEnd, _geo.StartOf(first + count).Value);
        Allocated?.Invoke(first, count);
    }

    /// <summary>
    /// Builds a larger refcount table at the end of the file, together with the refcount blocks that describe
    /// it, writes and flushes both, switches to it in memory and schedules the old table's clusters for freeing.
    /// The header still names the old table: the move is returned by the public call, whose caller writes it.
    /// </summary>
    private void GrowTable(long neededIndex)
    {
        BeforeChange?.Invoke();
        var fileEnd = _geo.ClusterEnd(_file.Length);
        if (fileEnd.Index < 1)
        {
            fileEnd = new HostCluster(1);
        }

        long entriesWanted = Math.Max(neededIndex + 1, (_table.Length * 3 / 2) + 1);
        long tableClusters, newBlocks;
        var start = fileEnd;
        while (true)
        {
            tableClusters = _geo.ClustersFor(entriesWanted * 8);
            // New blocks cover [start, start + tableClusters + newBlocks) where no block exists yet.
            newBlocks = 0;
            for (int i = 0; i < 4; i++)
            {
                var end = start + (tableClusters + newBlocks);
                long blocks = 0;
                for (long t = _geo.RefcountTableIndex(start); t <= _geo.RefcountTableIndex(end.Previous); t++)
                {
                    if (t >= _table.Length || BlockOffset(t).Value == 0)
                    {
                        blocks++;
                    }
                }

                newBlocks = blocks;
            }

            var regionEnd = start + (tableClusters + newBlocks);
            long lastIndex = _geo.RefcountTableIndex(regionEnd.Previous);
            var busy = FirstUsedCluster(start, regionEnd);
            if (busy is { } used)
            {
                start = used.Next; // a cluster past the end of the file is in use: build the table beyond it
                continue;
            }

            if (lastIndex < entriesWanted && tableClusters * _geo.ClusterSize / 8 >= entriesWanted)
            {
                break;
            }

            entriesWanted = Math.Max(entriesWanted, lastIndex + 1);
        }

        var blocksStart = start + tableClusters;
        var allocatedEnd = blocksStart + newBlocks;
        NoteAllocated(start, allocatedEnd - start);
        long tableEntries = tableClusters * _geo.ClusterSize / 8;
        var newTable = new ulong[tableEntries];
        Array.Copy(_table, newTable, _table.Length);

        // Place the new blocks right after the new table; each one gets the refcounts of the new clusters it covers.
        var next = blocksStart;
        var blockData = new Dictionary<long, byte[]>();
        for (long t = _geo.RefcountTableIndex(start); t <= _geo.RefcountTableIndex(allocatedEnd.Previous); t++)
        {
            if (!new RefcountTableEntry(newTable[t]).HasBlock)
            {
                newTable[t] = RefcountTableEntry.For(_geo.StartOf(next)).Raw;
                blockData[t] = new byte[_geo.ClusterSize];
                next = next.Next;
            }
        }

        for (var c = start; c < allocatedEnd; c = c.Next)
        {
            if (blockData.TryGetValue(_geo.RefcountTableIndex(c), out var block))
            {
                RefcountBlock.Set(block, _geo.RefblockIndex(c), _geo.RefcountOrder, 1);
            }
            else
            {
                Update(c, 1); // existing block: ordinary cached update, flushed below
            }
        }

        Blocks.WriteDirty();
        foreach (var (t, block) in blockData)
        {
            long offset = new RefcountTableEntry(newTable[t]).Block.Value;
            _file.Write(offset, block);
            Blocks.PutClean(offset, block);
        }

        var bytes = new byte[tableClusters * _geo.ClusterSize];
        for (long i = 0; i < newTable.Length; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan((int)(i * 8)), newTable[i]);
        }

        _file.Write(_geo.StartOf(start).Value, bytes);
        _file.Flush();

        var old = _location;
        _location = new RefcountTableLocation(_geo.StartOf(start), (uint)tableClusters);
        _movedTable = _location;
        _table = newTable;
        _unwrittenTableEntries.Clear(); // the new table, written whole above after every block, names them
        var oldFirst = _geo.ClusterOf(old.Offset);
        for (long c = 0; c < old.Clusters; c++)
        {
            ScheduleFree(oldFirst + c);
        }
    }

    private HostCluster? FirstUsedCluster(HostCluster from, HostCluster to)
    {
        for (var c = from; c < to; c = c.Next)
        {
            if (GetRefcount(c) != 0)
            {
                return c;
            }
        }

        return null;
    }
}
