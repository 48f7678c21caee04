using System.Buffers.Binary;
using System.Text;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Allocation;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2.Bitmaps;

/// <summary>
/// The persistent dirty bitmaps of an image open for writing (spec "Bitmaps"), maintained as QEMU maintains them.
/// At open every enabled (auto) bitmap that is consistent gets the in_use flag on disk (a new directory, stable
/// before the header names it) before any guest write; writes, zero writes and discards mark their granules in a
/// sparse in-memory set (<see cref="DirtyGranules"/>); a clean close merges them into new bitmap data clusters, writes
/// new tables and a new directory with in_use cleared, and switches the header to them in one write; replaced clusters
/// are freed afterwards. A crash leaves in_use set: the bitmap is then inconsistent, as QEMU leaves it. Bitmaps that
/// are disabled or already in_use at open are kept as they are (a resize rewrites the tables of consistent ones).
/// Crash-safe order: new data clusters, tables and directory and their refcounts stable → header → old clusters freed;
/// the on-disk bitmap never claims consistency without the granules written since it was marked in_use.
/// Memory: at most <see cref="Budget"/> (16 MiB) of dirty chunks plus 16 per bitmap (one <see cref="MarkSpan"/>); past that they are stored into data clusters early
/// (under the in_use flag), so a 64 TiB disk costs no more than a small one.
/// Metadata lock held for everything but <see cref="Mark"/>, which has its own lock.
/// </summary>
internal sealed class PersistentBitmaps
{
    /// <summary>Dirty chunks held in memory before they are written to bitmap data clusters (all bitmaps together).</summary>
    public const long MaxDirtyBytes = 16L << 20;

    private readonly object _markLock = new();
    private readonly SyncTrackingBlockDevice _file;
    private readonly HeaderStore _header;
    private readonly ClusterAllocator _allocator;
    private readonly WriteOrder _order;
    private readonly ClusterGeometry _geo;
    private readonly List<Bitmap> _bitmaps = new();

    /// <summary>Bitmap data clusters allocated this session and named by no table on disk: rewritten in place.</summary>
    private readonly HashSet<long> _sessionClusters = new();

    /// <summary>Clusters that on-disk structures still name: freed once the header names their replacements.</summary>
    private readonly List<(HostOffset Start, long Clusters)> _freeAfterCommit = new();

    private long _dirtyBytes;

    /// <summary>Some bitmap records writes (see <see cref="IsTracking"/>).</summary>
    private volatile bool _tracking;

    /// <summary>The directory or a table differs from the disk: a store is needed.</summary>
    private bool _changed;

    private PersistentBitmaps(SyncTrackingBlockDevice file, HeaderStore header, ClusterAllocator allocator, WriteOrder order)
    {
        _file = file;
        _header = header;
        _allocator = allocator;
        _order = order;
        _geo = header.Current.Geometry;
    }

    /// <summary>Names and states of the bitmaps as they will be stored.</summary>
    public IEnumerable<BitmapDirectoryEntry> Entries => _bitmaps.Select(b => b.Entry);

    /// <summary>True when some bitmap records writes: without one, a write costs nothing here.</summary>
    public bool IsTracking => _tracking;

    /// <summary>The image has persistent bitmaps (consistent or not).</summary>
    public bool HasBitmaps => _bitmaps.Count > 0;

    /// <summary>Bytes of dirty chunks kept in memory before <see cref="Spill"/> (<see cref="MaxDirtyBytes"/>; tests lower it).</summary>
    public long Budget { get; set; } = MaxDirtyBytes;

    /// <summary>True while dirty chunks take more than <see cref="Budget"/>: the owner calls <see cref="Spill"/>.</summary>
    public bool IsOverBudget => Interlocked.Read(ref _dirtyBytes) > Budget;

    /// <summary>
    /// The longest guest range one <see cref="Mark"/> call may be given: it creates at most 16 chunks per bitmap, so
    /// even a discard of the whole disk stays within the budget when the caller spills between calls.
    /// </summary>
    public long MarkSpan => _bitmaps.Count == 0 ? long.MaxValue : _bitmaps.Min(b => b.Entry.Granularity) * _geo.ClusterSize * 8 * 16;

    /// <summary>Bytes of dirty chunks held now (tests and the memory bound).</summary>
    public long DirtyBytes => Interlocked.Read(ref _dirtyBytes);

    /// <summary>
    /// Loads the bitmaps of a writable image and marks the enabled ones in_use on disk. Returns null when a bitmap
    /// uses something this program cannot keep correct (extra data not marked compatible): the caller then clears
    /// autoclear bit 0, as the spec asks of a writer that does not maintain the bitmaps.
    /// </summary>
    public static PersistentBitmaps? Open(SyncTrackingBlockDevice file, HeaderStore header, ClusterAllocator allocator, WriteOrder order, IReadOnlyList<BitmapDirectoryEntry> entries)
    {
        var h = header.Current;
        if (!CanMaintain(entries))
        {
            return null;
        }

        var bitmaps = new PersistentBitmaps(file, header, allocator, order);
        long fileLength = file.Length;
        foreach (var e in entries)
        {
            var b = new Bitmap(e, h.Size);
            if (!e.IsInUse)
            {
                b.Table = ReadTable(file, h, e, fileLength);
                if (e.IsAuto)
                {
                    b.Dirty = new DirtyGranules(new BitmapGeometry(h.Size, e.GranularityBits, h.ClusterSize));
                    b.Entry = e.WithFlag(BitmapDirectoryEntry.FlagInUse, set: true);
                    bitmaps._changed = true;
                }
            }

            bitmaps._bitmaps.Add(b);
        }

        if (bitmaps._changed)
        {
            bitmaps.CommitDirectory();
        }

        bitmaps.UpdateTracking();
        return bitmaps;
    }

    /// <summary>False when a bitmap has extra data not marked compatible (spec: such a bitmap must not be changed).</summary>
    public static bool CanMaintain(IReadOnlyList<BitmapDirectoryEntry> entries) =>
        !entries.Any(e => e.ExtraData.Length > 0 && (e.Flags & BitmapDirectoryEntry.FlagExtraDataCompatible) == 0);

    /// <summary>Records that guest bytes [offset, offset+length) changed, in every enabled bitmap (any thread).</summary>
    public void Mark(long offset, long length)
    {
        lock (_markLock)
        {
            foreach (var b in _bitmaps)
            {
                if (b.Dirty is { } dirty && b.Entry.IsAuto)
                {
                    int created = dirty.Mark(offset, length);
                    if (created > 0)
                    {
                        Interlocked.Add(ref _dirtyBytes, (long)created * _geo.ClusterSize);
                    }
                }
            }
        }
    }

    /// <summary>Writes every dirty chunk into bitmap data clusters now (still under in_use), freeing their memory.</summary>
    public void Spill()
    {
        lock (_markLock)
        {
            long size = _header.Current.Size;
            foreach (var b in _bitmaps)
            {
                if (b.Dirty is not { } dirty || b.Table is null)
                {
                    continue;
                }

                var geo = new BitmapGeometry(Math.Min(size, b.TableDiskSize), b.Entry.GranularityBits, _geo.ClusterSize);
                foreach (long index in dirty.Indices.ToList())
                {
                    var chunk = dirty.Take(index)!;
                    if (index < b.Table.Length)
                    {
                        MergeChunk(b, index, chunk, geo);
                    }
                }
            }

            Interlocked.Exchange(ref _dirtyBytes, 0);
        }
    }

    /// <summary>
    /// The clean close: merges what was marked, writes changed tables and the directory with in_use cleared on the
    /// bitmaps this session kept, and switches the header to them. Nothing to do when nothing changed.
    /// </summary>
    public void Store()
    {
        lock (_markLock)
        {
            long size = _header.Current.Size;
            foreach (var b in _bitmaps)
            {
                if (b.Table is null)
                {
                    continue;
                }

                bool resized = b.TableDiskSize != size;
                if (resized || b.TableChanged || (b.Dirty?.ChunkCount ?? 0) > 0)
                {
                    RewriteTable(b, size);
                }

                if (b.Dirty is not null)
                {
                    b.Entry = b.Entry.WithFlag(BitmapDirectoryEntry.FlagInUse, set: false);
                    b.Dirty = null;
                    _changed = true;
                }
            }

            Interlocked.Exchange(ref _dirtyBytes, 0);
            if (_changed)
            {
                CommitDirectory();
            }

            _sessionClusters.Clear();
            UpdateTracking();
        }
    }

    /// <summary>A resize keeps consistent bitmaps (their tables follow the new size at close); an inconsistent one refuses it, as QEMU does.</summary>
    public void RefuseResizeIfInconsistent()
    {
        if (_bitmaps.Find(b => b.Table is null) is { } bad)
        {
            throw new BitmapOperationException($"Bitmap '{bad.Entry.Name}' is inconsistent and cannot be used");
        }
    }

    /// <summary>qemu-img bitmap --add: a new empty, enabled bitmap.</summary>
    public void Add(string name, int granularityBits)
    {
        var h = _header.Current;
        byte[] nameBytes = Encoding.UTF8.GetBytes(name);
        if (Find(name) is not null)
        {
            throw new BitmapOperationException($"Bitmap already exists: {name}");
        }

        if (h.Version < 3)
        {
            throw new BitmapOperationException($"Can't make bitmap '{name}' persistent in '{_file.Name}': Cannot store dirty bitmaps in qcow2 v2 files");
        }

        if (nameBytes.Length > BitmapDirectory.MaxNameBytes)
        {
            throw new BitmapOperationException($"Can't make bitmap '{name}' persistent in '{_file.Name}': Name length exceeds maximum ({BitmapDirectory.MaxNameBytes} characters)");
        }

        if (_bitmaps.Count >= BitmapDirectory.MaxBitmaps)
        {
            throw new BitmapOperationException($"Can't make bitmap '{name}' persistent in '{_file.Name}': Maximum number of persistent bitmaps is already reached");
        }

        var geo = new BitmapGeometry(h.Size, granularityBits, h.ClusterSize);
        if (geo.ByteCount > BitmapGeometry.MaxBitmapBytes)
        {
            throw new BitmapOperationException($"Can't make bitmap '{name}' persistent in '{_file.Name}': Too much space will be occupied by the bitmap. Use larger granularity");
        }

        var entry = new BitmapDirectoryEntry
        {
            TableSize = (uint)geo.TableSize,
            Flags = BitmapDirectoryEntry.FlagAuto,
            GranularityBits = (byte)granularityBits,
            NameBytes = nameBytes,
        };
        _bitmaps.Add(new Bitmap(entry, h.Size) { Table = new ulong[geo.TableSize], TableChanged = true, Dirty = new DirtyGranules(geo) });
        _changed = true;
        UpdateTracking();
    }

    /// <summary>qemu-img bitmap --remove: the bitmap goes, its clusters are freed once the header no longer names them.</summary>
    public void Remove(string name)
    {
        var b = Existing(name);
        lock (_markLock)
        {
            _bitmaps.Remove(b);
        }

        // An in-use bitmap's table was never loaded: read it now, or its data clusters would leak.
        var table = b.Table ?? ReadTable(_file, _header.Current, b.Entry, _file.Length);
        for (long i = 0; i < table.Length; i++)
        {
            ReleaseData(table[i]);
        }

        ReleaseTable(b);
        _changed = true;
        UpdateTracking();
    }

    /// <summary>qemu-img bitmap --clear: every bit 0.</summary>
    public void Clear(string name)
    {
        var b = Consistent(name);
        lock (_markLock)
        {
            b.Dirty?.Clear();
            for (long i = 0; i < b.Table!.Length; i++)
            {
                ReleaseData(b.Table[i]);
                b.Table[i] = 0;
            }
        }

        b.TableChanged = true;
        _changed = true;
    }

    /// <summary>qemu-img bitmap --enable / --disable: the auto flag.</summary>
    public void SetEnabled(string name, bool enabled)
    {
        var b = Consistent(name);
        lock (_markLock)
        {
            b.Entry = b.Entry.WithFlag(BitmapDirectoryEntry.FlagAuto, enabled);
            if (enabled)
            {
                b.Dirty ??= new DirtyGranules(new BitmapGeometry(_header.Current.Size, b.Entry.GranularityBits, _geo.ClusterSize));
            }
        }

        _changed = true;
        UpdateTracking();
    }

    /// <summary>
    /// qemu-img bitmap --merge: every granule dirty in <paramref name="source"/> becomes dirty in <paramref name="target"/>
    /// (granularities may differ: a source granule marks the target granules it overlaps). Chunk by chunk, within the budget.
    /// </summary>
    public void Merge(string source, string target)
    {
        var t = Consistent(target);
        var s = Consistent(source);
        if (ReferenceEquals(s, t))
        {
            return;
        }

        long size = _header.Current.Size;
        var sourceGeo = new BitmapGeometry(size, s.Entry.GranularityBits, _geo.ClusterSize);
        for (long index = 0; index < s.Table!.Length; index++)
        {
            lock (_markLock)
            {
                var bits = ReadChunk(s.Table[index]);
                if (s.Dirty?.Peek(index) is { } marked)
                {
                    for (int i = 0; i < bits.Length; i++)
                    {
                        bits[i] |= marked[i];
                    }
                }

                t.Dirty ??= new DirtyGranules(new BitmapGeometry(size, t.Entry.GranularityBits, _geo.ClusterSize));
                long valid = sourceGeo.BitsInCluster(index);
                long firstBit = index * sourceGeo.BitsPerCluster;
                for (long b = 0; b < valid;)
                {
                    if (!IsSet(bits, b))
                    {
                        b++;
                        continue;
                    }

                    long end = b;
                    while (end < valid && IsSet(bits, end))
                    {
                        end++;
                    }

                    long guest = (firstBit + b) << sourceGeo.GranularityBits;
                    long length = Math.Min(size, (firstBit + end) << sourceGeo.GranularityBits) - guest;
                    int created = t.Dirty.Mark(guest, length);
                    Interlocked.Add(ref _dirtyBytes, (long)created * _geo.ClusterSize);
                    b = end;
                }
            }

            if (IsOverBudget)
            {
                Spill();
            }
        }

        _changed = true;
        UpdateTracking();
    }

    private static bool IsSet(byte[] bits, long bit) => (bits[bit >> 3] & (1 << (int)(bit & 7))) != 0;

    private static ulong[] ReadTable(SyncTrackingBlockDevice file, Qcow2Header h, BitmapDirectoryEntry e, long fileLength)
    {
        var raw = new byte[(long)e.TableSize * 8];
        file.Read(e.TableOffset, raw);
        var table = new ulong[e.TableSize];
        for (int i = 0; i < table.Length; i++)
        {
            table[i] = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
            BitmapDirectory.ValidateTableEntry(table[i], i, e, h, fileLength, file.Name);
        }

        return table;
    }

    private void UpdateTracking() => _tracking = _bitmaps.Exists(b => b.Dirty is not null && b.Entry.IsAuto);

    private Bitmap? Find(string name) => _bitmaps.Find(b => b.Entry.Name == name);

    private Bitmap Existing(string name) => Find(name) ?? throw new BitmapOperationException($"Dirty bitmap '{name}' not found");

    private Bitmap Consistent(string name)
    {
        var b = Existing(name);
        return b.Table is null ? throw new BitmapOperationException($"Bitmap '{name}' is inconsistent and cannot be used") : b;
    }

    /// <summary>The table for the disk's current size: entries past the end freed, the last chunk's tail bits cleared, dirty chunks merged; then written to new clusters.</summary>
    private void RewriteTable(Bitmap b, long size)
    {
        var geo = new BitmapGeometry(size, b.Entry.GranularityBits, _geo.ClusterSize);
        var old = b.Table!;
        long oldSize = b.TableDiskSize;
        var table = new ulong[geo.TableSize];
        for (long i = 0; i < old.Length; i++)
        {
            if (i < table.Length)
            {
                table[i] = old[i];
            }
            else
            {
                ReleaseData(old[i]);
            }
        }

        b.Table = table;
        b.TableDiskSize = size;
        if (b.Dirty is { } dirty)
        {
            foreach (long index in dirty.Indices.ToList())
            {
                var chunk = dirty.Take(index)!;
                if (index < table.Length)
                {
                    MergeChunk(b, index, chunk, geo);
                }
            }
        }

        if (size < oldSize && table.Length > 0)
        {
            // Bits past the new end must be 0 (spec): the new last chunk loses its tail.
            MergeChunk(b, table.Length - 1, null, geo);
        }

        ReleaseTable(b);
        long bytes = (long)table.Length * 8;
        if (bytes == 0)
        {
            b.Entry = b.Entry with { TableOffset = 0, TableSize = 0 };
            return;
        }

        int clusters = (int)_geo.ClustersFor(bytes);
        var at = _allocator.AllocateTable(clusters);
        var raw = new byte[(long)clusters * _geo.ClusterSize];
        for (int i = 0; i < table.Length; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(raw.AsSpan(i * 8), table[i]);
        }

        _file.Write(at.Value, raw);
        b.Entry = b.Entry with { TableOffset = at.Value, TableSize = (uint)table.Length };
        b.TableChanged = false;
        _changed = true;
    }

    /// <summary>Table entry <paramref name="index"/> := its bits on disk OR <paramref name="dirty"/>, tail cleared; all-zero as 0, all-ones as 1.</summary>
    private void MergeChunk(Bitmap b, long index, byte[]? dirty, BitmapGeometry geo)
    {
        ulong old = b.Table![index];
        long oldData = new BitmapTableEntry(old).Data.Value;
        var bits = ReadChunk(old);

        if (dirty is not null)
        {
            for (int i = 0; i < bits.Length; i++)
            {
                bits[i] |= dirty[i];
            }
        }

        long valid = geo.BitsInCluster(index);
        if (valid < geo.BitsPerCluster)
        {
            ClearFrom(bits, valid);
        }

        ulong next;
        if (!bits.AsSpan().ContainsAnyExcept((byte)0))
        {
            next = 0;
        }
        else if (!bits.AsSpan().ContainsAnyExcept((byte)0xFF))
        {
            next = 1;
        }
        else if (oldData != 0 && _sessionClusters.Contains(oldData))
        {
            _file.Write(oldData, bits);
            return;
        }
        else
        {
            var at = _allocator.AllocateTable(1);
            _sessionClusters.Add(at.Value);
            _file.Write(at.Value, bits);
            next = (ulong)at.Value;
        }

        if (next != old)
        {
            ReleaseData(old);
            b.Table[index] = next;
            b.TableChanged = true;
        }
    }

    /// <summary>The bits table entry <paramref name="entry"/> stands for: its data cluster, all zeros (0) or all ones (1).</summary>
    private byte[] ReadChunk(ulong entry)
    {
        var bits = new byte[_geo.ClusterSize];
        long data = new BitmapTableEntry(entry).Data.Value;
        if (data != 0)
        {
            _file.Read(data, bits);
        }
        else if ((entry & 1) != 0)
        {
            bits.AsSpan().Fill(0xFF);
        }

        return bits;
    }

    private static void ClearFrom(Span<byte> bits, long firstBit)
    {
        int firstByte = (int)(firstBit >> 3);
        if ((firstBit & 7) != 0)
        {
            bits[firstByte] &= (byte)((1 << (int)(firstBit & 7)) - 1);
            firstByte++;
        }

        bits[firstByte..].Clear();
    }

    /// <summary>A data cluster a table entry stops naming: freed now if only this session's memory named it, else after the next header commit.</summary>
    private void ReleaseData(ulong entry)
    {
        long data = new BitmapTableEntry(entry).Data.Value;
        if (data == 0)
        {
            return;
        }

        if (_sessionClusters.Remove(data))
        {
            _allocator.ScheduleFree(_geo.ClusterOf(new HostOffset(data)));
        }
        else
        {
            _freeAfterCommit.Add((new HostOffset(data), 1));
        }
    }

    private void ReleaseTable(Bitmap b)
    {
        if (b.Entry.TableOffset != 0 && b.Entry.TableSize > 0)
        {
            _freeAfterCommit.Add((new HostOffset(b.Entry.TableOffset), _geo.ClustersFor((long)b.Entry.TableSize * 8)));
        }
    }

    /// <summary>
    /// Writes the directory to new clusters, makes it and everything it names stable, switches the header to it (or
    /// drops the extension and autoclear bit 0 when no bitmap is left, as qemu-img does), then frees what the old
    /// header named.
    /// </summary>
    private void CommitDirectory()
    {
        var h = _header.Current;
        if (BitmapsExtension.Find(h) is { } oldExt)
        {
            _freeAfterCommit.Add((new HostOffset(oldExt.DirectoryOffset), _geo.ClustersFor(oldExt.DirectorySize)));
        }

        var extensions = h.Extensions.Where(e => e.Type != HeaderExtension.Bitmaps).ToList();
        ulong autoclear = h.AutoclearFeatures & ~FeatureBits.AutoclearBitmaps;
        if (_bitmaps.Count > 0)
        {
            var entries = _bitmaps.Select(b => b.Entry).ToList();
            var dir = BitmapDirectory.Serialize(entries);
            int clusters = (int)_geo.ClustersFor(dir.Length);
            var at = _allocator.AllocateTable(clusters);
            var padded = new byte[(long)clusters * _geo.ClusterSize];
            dir.CopyTo(padded, 0);
            _file.Write(at.Value, padded);
            extensions.Add(new BitmapsExtension((uint)entries.Count, dir.Length, at.Value).ToExtension());
            autoclear |= FeatureBits.AutoclearBitmaps;
        }

        // New data clusters, tables and directory, and their refcounts, stable before the header names them.
        _order.MakeDataAndRefcountsStable();
        _file.FlushIfUnsynced();
        _header.Commit(h with { Extensions = extensions, AutoclearFeatures = autoclear });
        foreach (var (start, clusters) in _freeAfterCommit)
        {
            _allocator.ScheduleFree(start, clusters);
        }

        _freeAfterCommit.Clear();
        _changed = false;
        _order.FlushAll();
    }

    /// <summary>One bitmap: its directory entry as it will be stored, its table (null: inconsistent, kept as is) and what this session marked.</summary>
    private sealed class Bitmap(BitmapDirectoryEntry entry, long diskSize)
    {
        public BitmapDirectoryEntry Entry { get; set; } = entry;

        /// <summary>The table entries (as they will be stored); null for a bitmap in_use at open, which is never touched.</summary>
        public ulong[]? Table { get; set; }

        /// <summary>The disk size <see cref="Table"/> was laid out for.</summary>
        public long TableDiskSize { get; set; } = diskSize;

        public bool TableChanged { get; set; }

        /// <summary>Granules marked this session; null when the bitmap is not tracking (disabled, or inconsistent).</summary>
        public DirtyGranules? Dirty { get; set; }
    }
}
