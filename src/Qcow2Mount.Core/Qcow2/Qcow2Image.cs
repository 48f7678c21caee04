using System.Buffers.Binary;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Allocation;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// A qcow2 image as a virtual disk: the engine. Opening validates the header and tables; reads and writes go
/// through <see cref="Translate"/> (the one mapping loop) and the cluster allocator.
/// Locks: <see cref="_metaLock"/> guards L1, the L2 cache and refcounts and is held only while metadata is looked
/// up or changed; <see cref="_ranges"/> orders requests on overlapping guest ranges; data I/O runs under neither, so it
/// may grow the file while another thread holds the metadata lock: the file is therefore never shortened while open,
/// only grown to cover every allocated cluster (<see cref="RefcountManager"/>'s length rule).
/// Crash-safe order (see <see cref="Flush"/>): data and COW bytes → refcount blocks → L2 tables → L1/header, enforced
/// by the L2 cache's write-back prerequisite; and backwards for freeing: every reference removal (L2 entry, L1 entry,
/// header) is stable before a refcount drops, enforced by the refcount manager's <see cref="RefcountManager.BeforeDecrements"/>
/// (<see cref="MakeReferencesStable"/>) with the file's sync tracking. With lazy refcounts the dirty bit
/// is on disk (written and flushed) before the first metadata change (<see cref="BeforeMetadataChange"/>) and cleared
/// only after the final flush of a clean close; the order above is kept anyway, so a crash leaves leaks at worst.
/// A write that meets inconsistent metadata sets the corrupt bit and turns the image read-only (<see cref="SignalCorruption"/>).
/// </summary>
public sealed partial class Qcow2Image : IVirtualDisk
{
    /// <summary>QEMU's limit on the L1 table (32 MiB of entries): bounds the memory a hostile header can claim.</summary>
    private const long MaxL1Bytes = 32L << 20;

    /// <summary>QEMU's limit on the refcount table (8 MiB).</summary>
    private const long MaxRefcountTableBytes = 8L << 20;

    /// <summary>QEMU's limits on the snapshot table: 65536 entries, 64 MiB in all (bounds what a hostile header can claim).</summary>
    private const uint MaxSnapshots = 65536;


    /// <summary>
    /// Snapshot L1 clusters, summed over all snapshots, that open will index (each goes into the metadata set).
    /// Far above any real image (64 snapshots of the largest L1 at 512-byte clusters); stops a table of 65536
    /// snapshots that all name one 32 MiB L1 from costing billions of set insertions.
    /// </summary>
    private const long MaxSnapshotL1Clusters = 1L << 22;

    /// <summary>Deferred refcount decrements kept before a flush is forced, so memory stays bounded.</summary>
    private const int MaxDeferredFrees = 65536;

    private readonly object _metaLock = new();
    private readonly GuestRangeLock _ranges = new();
    /// <summary>The image file; knows whether everything written to it is synced (the freeing rule asks).</summary>
    private readonly SyncTrackingBlockDevice _file;
    private readonly IBlockDevice _data;
    private readonly IVirtualDisk? _backing;

    /// <summary>What closing this image releases of its backing layer: the layer itself, or a lease on a shared one.</summary>
    private readonly IDisposable? _backingOwner;
    private readonly Qcow2Header _header;
    private readonly ClusterGeometry _geo;
    private readonly ulong[] _l1;
    private readonly MetadataCache _l2Cache;
    private readonly RefcountManager? _refcounts;
    private readonly HashSet<long> _metadataClusters = new();

    /// <summary>L2 table clusters that an L1 entry shares with other metadata (or another L1 entry): corrupt on use.</summary>
    private readonly HashSet<long> _overlappingL2Tables = new();
    private readonly IReadOnlyList<SnapshotTableEntry> _snapshots;
    private readonly long _snapshotTableBytes;
    private readonly ImageOpenOptions _options;
    private readonly int _l2SliceSize;
    private readonly bool _externalData;
    private bool _readOnly;
    private int _dataWritten;
    private bool _disposed;

    /// <summary>Drops clean idle cache entries every <see cref="ImageOpenOptions.CacheCleanIntervalSeconds"/> (null = never).</summary>
    private Timer? _cacheCleaner;

    /// <summary>True once this session set the dirty bit on disk (lazy refcounts only); a clean close clears it.</summary>
    private bool _dirtyBitSet;

    private Qcow2Image(IBlockDevice file, Qcow2Header header, ImageOpenOptions options, IVirtualDisk? backing, IBlockDevice? dataFile, IDisposable? backingOwner)
    {
        _backingOwner = backingOwner ?? backing;
        _file = new SyncTrackingBlockDevice(file);
        _header = header;
        _options = options;
        _backing = backing;
        _geo = header.Geometry;
        _readOnly = options.ReadOnly || file.IsReadOnly;
        _externalData = header.HasExternalDataFile;
        _data = dataFile ?? _file;
        Name = file.Name;

        (_snapshots, _snapshotTableBytes) = ValidateLayout();
        _l1 = ReadL1();

        _l2SliceSize = options.L2CacheEntrySize is > 0 and var s && s <= _geo.ClusterSize && (s & (s - 1)) == 0 && s >= 512 ? s : _geo.ClusterSize;
        long l2Budget = options.CacheSize > 0 ? options.CacheSize : 32L << 20;
        _l2Cache = new MetadataCache("L2", _file, _l2SliceSize, l2Budget);
        var refblockCache = new MetadataCache("refcount", _file, _geo.ClusterSize, Math.Max(l2Budget / 4, 4L * _geo.ClusterSize));
        refblockCache.Validate = (_, _) => { };
        var table = ReadRefcountTable();
        _refcounts = new RefcountManager(_file, _geo, header, table, refblockCache, WriteHeader)
        {
            Allocated = OnAllocated,
            Freed = OnFreed,
            BeforeChange = BeforeMetadataChange,
            BeforeDecrements = MakeReferencesStable,
        };
        _refcounts.ValidateTable(FixedMetadataRegions(_snapshotTableBytes));

        // Rule: an L2 entry reaches disk only after the data it maps and the refcounts of its clusters are stable.
        _l2Cache.WriteBackPrerequisite = MakeDataAndRefcountsStable;
        CollectMetadataClusters(table);
        if (options.CacheCleanIntervalSeconds > 0)
        {
            // The timer holds the image weakly: an image nobody disposed can still be collected (and its timer with it).
            var interval = TimeSpan.FromSeconds(options.CacheCleanIntervalSeconds);
            _cacheCleaner = new Timer(
                static state =>
                {
                    var (image, idle) = ((WeakReference<Qcow2Image>, long))state!;
                    if (image.TryGetTarget(out var target))
                    {
                        target.CleanCaches(idle);
                    }
                },
                (new WeakReference<Qcow2Image>(this), (long)interval.TotalMilliseconds),
                interval,
                interval);
        }
    }

    public string Name { get; }

    public Qcow2Header Header => _header;

    public Qcow2Statistics Statistics { get; } = new();

    /// <summary>The internal snapshots, parsed and validated at open.</summary>
    public IReadOnlyList<SnapshotTableEntry> Snapshots => _snapshots;

    public long Length => _header.Size;

    public bool IsReadOnly => _readOnly;

    /// <summary>Bytes of one L2 cache entry (a slice of an L2 table).</summary>
    public int L2CacheEntrySize => _l2SliceSize;

    internal MetadataCache L2Cache => _l2Cache;

    internal MetadataCache RefcountCache => _refcounts!.Blocks;

    /// <summary>The refcount reader/allocator (micro-benchmarks and tests).</summary>
    internal RefcountManager Refcounts => _refcounts!;

    internal ClusterGeometry Geometry => _geo;

    /// <summary>The image file itself (for tools that read structures the engine does not use, such as bitmaps).</summary>
    internal IBlockDevice ImageFile => _file;

    public static Qcow2Image Open(string path, ImageOpenOptions? options = null)
    {
        options ??= new ImageOpenOptions();
        return BackingChain.OpenQcow2(path, options, new BackingChain.Context(options));
    }

    /// <summary>Opens an image held by <paramref name="file"/>; <paramref name="backing"/> overrides the chain (for tests and the fuzzer).</summary>
    public static Qcow2Image Open(IBlockDevice file, ImageOpenOptions options, IVirtualDisk? backing = null) =>
        OpenDevice(file, options, backing, dataFile: null);

    internal static Qcow2Image OpenDevice(IBlockDevice file, ImageOpenOptions options, IVirtualDisk? backing, IBlockDevice? dataFile, IDisposable? backingOwner = null)
    {
        var header = ReadHeader(file);
        if (header.IsDirty && !header.IsCorrupt && !options.ReadOnly && !file.IsReadOnly)
        {
            // The rebuild walks the tables the header names: validate their layout first (inside the file, no
            // overlaps, sane sizes) exactly as a read-only open does, so a hostile image fails here, unchanged.
            _ = new Qcow2Image(file, header, options with { ReadOnly = true, CacheCleanIntervalSeconds = 0 }, backing: null, dataFile, backingOwner: null);
            header = RepairDirty(file, header, options);
        }

        if (header.HasExternalDataFile && dataFile is null && header.ExternalDataFile is null)
        {
            throw new ImageFormatException($"{file.Name}: image needs an external data file but names none");
        }

        if (header.HasExternalDataFile && dataFile is null)
        {
            throw new UnsupportedFeatureException($"{file.Name}: external data file '{header.ExternalDataFile}' must be opened by path");
        }

        var image = new Qcow2Image(file, header, options, backing, dataFile, backingOwner);
        try
        {
            image.PrepareForWriting();
            return image;
        }
        catch
        {
            image.CloseFiles();
            throw;
        }
    }

    /// <summary>
    /// A dirty image (refcounts may be stale: a lazy-refcounts writer did not close cleanly) is opened read-write only
    /// after its refcounts are rebuilt from the L1/L2 tables, as QEMU does; the rebuild clears the dirty bit.
    /// Read-only opens use the image as it is.
    /// </summary>
    private static Qcow2Header RepairDirty(IBlockDevice file, Qcow2Header header, ImageOpenOptions options)
    {
        var result = Check.RefcountRebuilder.Rebuild(file);
        if (!result.IsClean)
        {
            throw new ImageFormatException($"{file.Name}: could not repair dirty image: {result.RemainingCorruptions} corruptions and {result.RemainingLeaks} leaks remain after rebuilding the refcounts; repair it with 'qemu-img check -r all' or open it read-only");
        }

        var repaired = ReadHeader(file);
        if (repaired.IsDirty)
        {
            throw new ImageFormatException($"{file.Name}: could not repair dirty image: the dirty bit is still set after rebuilding the refcounts");
        }

        options.Log?.Invoke($"{file.Name}: repaired refcounts of dirty image ({result.LeaksFixed} leaked and {result.CorruptionsFixed} missing references fixed)");
        return repaired;
    }

    internal static Qcow2Header ReadHeader(IBlockDevice file)
    {
        var start = new byte[Math.Min(file.Length, 512)];
        file.Read(0, start);
        int clusterBits = Qcow2Header.PeekClusterBits(start, file.Name);
        var cluster0 = new byte[Math.Min(file.Length, 1L << clusterBits)];
        file.Read(0, cluster0);
        return Qcow2Header.Parse(cluster0, file.Name);
    }

    public void Flush()
    {
        lock (_metaLock)
        {
            FlushAndSignal();
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            if (!_readOnly)
            {
                lock (_metaLock)
                {
                    FlushAndSignal();
                    ClearDirtyBit();
                }
            }
        }
        finally
        {
            _disposed = true;
            CloseFiles();
        }
    }

    /// <summary>
    /// The end of a clean close (lazy refcounts): every cache is written back and the file is stable (caller flushed),
    /// so the refcounts on disk are exact and the dirty bit this session set can go. Metadata lock held.
    /// </summary>
    private void ClearDirtyBit()
    {
        if (_dirtyBitSet && !_readOnly)
        {
            _header.IncompatibleFeatures &= ~FeatureBits.IncompatibleDirty;
            WriteHeader();
            _file.Flush();
            _dirtyBitSet = false;
        }
    }

    private void CloseFiles()
    {
        _cacheCleaner?.Dispose();
        if (!ReferenceEquals(_data, _file))
        {
            _data.Dispose();
        }

        _file.Dispose();
        _backingOwner?.Dispose();
    }

    /// <summary>
    /// cache-clean-interval (qemu-behaviour.md §8): entries not used for a whole interval and not dirty are dropped,
    /// so an idle mount gives its metadata memory back. Dirty entries stay: dropping them would lose metadata.
    /// </summary>
    internal void CleanCaches(long idleMilliseconds)
    {
        lock (_metaLock)
        {
            if (_disposed)
            {
                return;
            }

            _l2Cache.DropIdle(idleMilliseconds);
            _refcounts!.Blocks.DropIdle(idleMilliseconds);
        }
    }

    /// <summary>A flush can meet corruption too (a deferred decrement below zero): mark the image, as a write does.</summary>
    private void FlushAndSignal()
    {
        try
        {
            FlushLocked();
        }
        catch (ImageCorruptException)
        {
            SignalCorruption();
            throw;
        }
    }

    /// <summary>
    /// Flush in dependency order: (1) data and COW bytes to stable storage, (2) refcount blocks, then stable,
    /// (2b) refcount table entries of new blocks, then stable, (3) L2 slices, (4) deferred refcount decrements, whose
    /// prerequisite syncs every reference removal first, and the refcount blocks they changed, (5) a sync of whatever
    /// is still unsynced (slices written back by an eviction, L1 entries), so nothing written before the call is lost.
    /// </summary>
    private void FlushLocked()
    {
        if (_readOnly || _refcounts is null)
        {
            return;
        }

        MakeDataAndRefcountsStable();
        _l2Cache.WriteDirty();
        if (_refcounts.DeferredFreeCount > 0)
        {
            _refcounts.ApplyDeferredFrees();
            _refcounts.Blocks.WriteDirty();
        }

        _file.FlushIfUnsynced();
    }

    /// <summary>
    /// Freeing runs backwards (the refcount manager's prerequisite for every decrement): the L2 cache is written back
    /// and the file synced, so the L2 entries, L1 entries and header fields that stopped naming a cluster are stable
    /// before its refcount drops. Otherwise a crash could keep the old pointer with the lower count, and the next
    /// write would free and reuse a cluster that is still in use (a snapshot's L2 table or data).
    /// </summary>
    private void MakeReferencesStable()
    {
        _l2Cache.WriteDirty();
        _file.FlushIfUnsynced();
    }

    private void MakeDataAndRefcountsStable()
    {
        // Before the refcount blocks: nothing on disk may count a cluster that reaches past the end of the file.
        _refcounts!.GrowFileToAllocated();
        if (Interlocked.Exchange(ref _dataWritten, 0) != 0)
        {
            _data.Flush();
        }

        if (_refcounts.Blocks.DirtyCount > 0)
        {
            _refcounts.Blocks.WriteDirty();
            _file.Flush();
        }

        if (_refcounts.HasUnwrittenTableEntries)
        {
            // New refcount blocks are stable now; only then may the table name them.
            _refcounts.WriteUnwrittenTableEntries();
            _file.Flush();
        }
    }

    /// <summary>Rewrites cluster 0 in one write (header, extensions, backing name).</summary>
    private void WriteHeader()
    {
        var cluster = new byte[_geo.ClusterSize];
        _header.Serialize(cluster);
        _file.Write(0, cluster);
    }

    private void PrepareForWriting()
    {
        if (_readOnly)
        {
            return;
        }

        if (_header.IsCorrupt)
        {
            throw new ImageFormatException($"{Name}: image is marked corrupt; it can only be opened read-only (repair it with 'qemu-img check -r all')");
        }

        ulong autoclear = _header.AutoclearFeatures & FeatureBits.AutoclearKeptOnWrite;
        if (autoclear != _header.AutoclearFeatures)
        {
            // Spec: a writer clears the autoclear bits it does not maintain before changing the image (bitmaps included).
            _header.AutoclearFeatures = autoclear;
            WriteHeader();
            _file.Flush();
        }
    }

    private (List<SnapshotTableEntry> Snapshots, long SnapshotTableBytes) ValidateLayout()
    {
        long fileLength = _file.Length;
        int c = _geo.ClusterSize;
        if (_header.Size < 0)
        {
            throw new ImageFormatException($"{Name}: virtual size {_header.Size} is invalid");
        }

        long needed = _geo.L1EntriesFor(_header.Size);
        if (_header.L1Size < needed)
        {
            throw new ImageFormatException($"{Name}: l1_size {_header.L1Size} is too small for the virtual size {_header.Size} (needs {needed})");
        }

        if ((long)_header.L1Size * 8 > MaxL1Bytes)
        {
            throw new ImageFormatException($"{Name}: l1_size {_header.L1Size} exceeds the {MaxL1Bytes >> 20} MiB limit");
        }

        CheckTable("l1_table_offset", _header.L1TableOffset, (long)_header.L1Size * 8, _header.L1Size > 0, fileLength);
        if (_header.RefcountTableClusters == 0)
        {
            throw new ImageFormatException($"{Name}: refcount_table_clusters is 0");
        }

        long reftableBytes = (long)_header.RefcountTableClusters * c;
        if (reftableBytes > MaxRefcountTableBytes)
        {
            throw new ImageFormatException($"{Name}: refcount_table_clusters {_header.RefcountTableClusters} exceeds the {MaxRefcountTableBytes >> 20} MiB limit");
        }

        CheckTable("refcount_table_offset", _header.RefcountTableOffset, reftableBytes, true, fileLength);
        if (_header.SnapshotCount > MaxSnapshots)
        {
            throw new ImageFormatException($"{Name}: nb_snapshots {_header.SnapshotCount} exceeds {MaxSnapshots}");
        }

        CheckTable("snapshots_offset", _header.SnapshotsOffset, _header.SnapshotCount > 0 ? SnapshotTableEntry.FixedLength : 0, _header.SnapshotCount > 0, fileLength);
        var (snapshots, snapshotBytes) = SnapshotTable.Read(_file, _header);

        var regions = FixedMetadataRegions(snapshotBytes);
        for (int i = 0; i < regions.Count; i++)
        {
            for (int j = i + 1; j < regions.Count; j++)
            {
                if (regions[i].Start < regions[j].End && regions[j].Start < regions[i].End)
                {
                    throw new ImageFormatException($"{Name}: {regions[j].Name} at 0x{regions[j].Start:x} overlaps the {regions[i].Name}");
                }
            }
        }

        long snapshotL1Clusters = 0;
        for (int i = 0; i < snapshots.Count; i++)
        {
            var sn = snapshots[i];
            string field = $"snapshot {i} l1_table_offset";
            if ((long)sn.L1Size * 8 > MaxL1Bytes)
            {
                throw new ImageFormatException($"{Name}: snapshot {i} l1_size {sn.L1Size} exceeds the {MaxL1Bytes >> 20} MiB limit");
            }

            CheckTable(field, sn.L1TableOffset, (long)sn.L1Size * 8, sn.L1Size > 0, fileLength);
            if (sn.L1Size == 0)
            {
                continue;
            }

            snapshotL1Clusters += _geo.ClustersFor((long)sn.L1Size * 8);
            if (snapshotL1Clusters > MaxSnapshotL1Clusters)
            {
                throw new ImageFormatException($"{Name}: snapshot L1 tables up to snapshot {i} take more than {MaxSnapshotL1Clusters} clusters");
            }

            long end = sn.L1TableOffset + ((long)sn.L1Size * 8);
            foreach (var r in regions)
            {
                if (sn.L1TableOffset < r.End && r.Start < end)
                {
                    throw new ImageFormatException($"{Name}: {field} 0x{sn.L1TableOffset:x} overlaps the {r.Name}");
                }
            }
        }

        return (snapshots, snapshotBytes);
    }

    /// <summary>Header, L1 table, refcount table and snapshot table: the structures the header places.</summary>
    private List<(string Name, long Start, long End)> FixedMetadataRegions(long snapshotTableBytes)
    {
        var regions = new List<(string Name, long Start, long End)> { ("header", 0, _geo.ClusterSize) };
        if (_header.L1Size > 0)
        {
            regions.Add(("L1 table", _header.L1TableOffset, _header.L1TableOffset + ((long)_header.L1Size * 8)));
        }

        regions.Add(("refcount table", _header.RefcountTableOffset, _header.RefcountTableOffset + ((long)_header.RefcountTableClusters * _geo.ClusterSize)));
        if (_header.SnapshotCount > 0)
        {
            regions.Add(("snapshot table", _header.SnapshotsOffset, _header.SnapshotsOffset + snapshotTableBytes));
        }

        return regions;
    }

    private void CheckTable(string field, long offset, long length, bool present, long fileLength)
    {
        if (!present)
        {
            return;
        }

        // Offset 0 is aligned: the overlap check then names what it collides with (the header).
        if (offset < 0 || !_geo.IsClusterAligned(offset))
        {
            throw new ImageFormatException($"{Name}: {field} 0x{offset:x} is not a cluster-aligned offset");
        }

        if (offset > fileLength || length > fileLength - offset)
        {
            throw new ImageFormatException($"{Name}: {field} 0x{offset:x} (+{length} bytes) lies beyond the end of the file ({fileLength} bytes)");
        }
    }

    private ulong[] ReadL1()
    {
        var bytes = new byte[(long)_header.L1Size * 8];
        _file.Read(_header.L1TableOffset, bytes);
        var l1 = new ulong[_header.L1Size];
        for (int i = 0; i < l1.Length; i++)
        {
            l1[i] = BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(i * 8));
        }

        return l1;
    }

    private ulong[] ReadRefcountTable()
    {
        var bytes = new byte[(long)_header.RefcountTableClusters * _geo.ClusterSize];
        _file.Read(_header.RefcountTableOffset, bytes);
        var table = new ulong[bytes.Length / 8];
        for (int i = 0; i < table.Length; i++)
        {
            table[i] = BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(i * 8));
        }

        return table;
    }

    /// <summary>Clusters holding metadata: a write of guest data there would destroy the image (overlap check).</summary>
    private void CollectMetadataClusters(ulong[] reftable)
    {
        _metadataClusters.Add(0);
        AddRange(_header.L1TableOffset, (long)_header.L1Size * 8);
        AddRange(_header.RefcountTableOffset, (long)_header.RefcountTableClusters * _geo.ClusterSize);
        // Offsets that are unaligned or past the end fail when used; only plausible ones are indexed, which keeps
        // this set no larger than the file has clusters.
        long fileLength = _file.Length;
        foreach (ulong e in reftable)
        {
            var entry = new RefcountTableEntry(e);
            if (entry.BlockOffset > 0 && entry.BlockOffset < fileLength && _geo.IsClusterAligned(entry.BlockOffset))
            {
                _metadataClusters.Add(entry.BlockOffset >> _geo.ClusterBits);
            }
        }

        if (_header.SnapshotCount > 0)
        {
            AddRange(_header.SnapshotsOffset, _snapshotTableBytes);
            foreach (var sn in _snapshots)
            {
                if (sn.L1Size > 0)
                {
                    AddRange(sn.L1TableOffset, (long)sn.L1Size * 8);
                }
            }
        }

        // An L2 table must own its cluster: one that is also the header, a table, a refcount block or another
        // L1 entry's L2 table would let a write through it rewrite that structure.
        foreach (ulong e in _l1)
        {
            var entry = new L1Entry(e);
            if (entry.L2TableOffset > 0 && entry.L2TableOffset < fileLength && _geo.IsClusterAligned(entry.L2TableOffset)
                && !_metadataClusters.Add(entry.L2TableOffset >> _geo.ClusterBits))
            {
                _overlappingL2Tables.Add(entry.L2TableOffset >> _geo.ClusterBits);
            }
        }

        void AddRange(long offset, long length)
        {
            for (long c = offset >> _geo.ClusterBits; c <= (offset + Math.Max(length, 1) - 1) >> _geo.ClusterBits; c++)
            {
                _metadataClusters.Add(c);
            }
        }
    }

    private void OnAllocated(long firstCluster, long count) => Statistics.AddClustersAllocated(count);

    private void OnFreed(long cluster)
    {
        long offset = cluster << _geo.ClusterBits;
        if (_metadataClusters.Remove(cluster))
        {
            for (long s = offset; s < offset + _geo.ClusterSize; s += _l2SliceSize)
            {
                _l2Cache.Drop(s);
            }

            _refcounts!.Blocks.Drop(offset);
        }

        _file.PunchHole(offset, _geo.ClusterSize);
    }

    /// <summary>
    /// Runs (metadata lock held) before the first change of any metadata: L2 entries (<see cref="WriteEntry"/>), new
    /// L2 tables and L1 entries (<see cref="EnsureL2Table"/>), refcounts (<see cref="RefcountManager.BeforeChange"/>)
    /// and resizes. With lazy refcounts (compatible bit 0) the dirty bit is written and flushed here, so a crash
    /// leaves an image whose refcounts are rebuilt before its next read-write use. Without lazy refcounts the
    /// write order alone keeps refcounts safe (too high at worst) and no dirty bit is used.
    /// </summary>
    private void BeforeMetadataChange()
    {
        if (_dirtyBitSet || !_header.HasLazyRefcounts || _header.Version < 3 || _readOnly)
        {
            return;
        }

        _header.IncompatibleFeatures |= FeatureBits.IncompatibleDirty;
        WriteHeader();
        _file.Flush();
        _dirtyBitSet = true;
    }

    /// <summary>Called when a write meets inconsistent metadata: mark the image corrupt and stop writing, as QEMU does.</summary>
    private void SignalCorruption()
    {
        lock (_metaLock)
        {
            if (_readOnly)
            {
                return;
            }

            _header.IncompatibleFeatures |= FeatureBits.IncompatibleCorrupt;
            try
            {
                WriteHeader();
                _file.Flush();
            }
            finally
            {
                _readOnly = true;
            }
        }
    }

    private void EnsureWritable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_readOnly)
        {
            throw new ReadOnlyImageException(Name);
        }
    }

    private void CheckRange(long offset, long length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset < 0 || length < 0 || offset > Length || length > Length - offset)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"{Name}: range {offset}+{length} is outside the {Length}-byte disk");
        }
    }
}
