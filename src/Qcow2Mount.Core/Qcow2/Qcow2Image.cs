using System.Runtime.ExceptionServices;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Allocation;
using Qcow2Mount.Core.Qcow2.Bitmaps;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// A qcow2 image as a virtual disk: the coordinator of the engine's parts. It holds the two locks and routes each
/// request; the parts do the work: <see cref="ClusterMapper"/> (the one mapping walker), <see cref="RunReader"/>
/// (I/O over mapped runs), <see cref="CopyOnWrite"/>, <see cref="ZeroWriter"/>, <see cref="CompressedWriter"/>,
/// <see cref="Resizer"/>, over <see cref="L2Tables"/>, <see cref="ClusterAllocator"/>/<see cref="RefcountManager"/>,
/// <see cref="WriteOrder"/> and <see cref="HeaderStore"/>; <see cref="ImageOpener"/> and <see cref="ImageLayout"/> open it.
/// Locks: <see cref="_metaLock"/> guards L1, the L2 cache, refcounts and the header and is held only while metadata
/// is looked up or changed; <see cref="_ranges"/> orders requests on overlapping guest ranges (reads and in-place
/// writes share a range, anything that changes its mapping holds it alone); data I/O runs under neither, so it may
/// grow the file while another thread holds the metadata lock: the file is therefore never shortened while open
/// (<see cref="RefcountManager"/>'s length rule). Crash-safe order: <see cref="WriteOrder"/>. A request that meets
/// inconsistent metadata sets the corrupt bit and turns the image read-only (<see cref="SignalCorruption"/>).
/// </summary>
public sealed class Qcow2Image : IVirtualDisk
{
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
    private readonly ClusterGeometry _geo;
    private readonly HeaderStore _header;
    private readonly RefcountManager _refcounts;
    private readonly ClusterAllocator _allocator;
    private readonly WriteOrder _order;
    private readonly L2Tables _tables;
    private readonly ClusterMapper _mapper;
    private readonly RunReader _reader;
    private readonly CopyOnWrite _cow;
    private readonly ZeroWriter _zero;
    private readonly CompressedWriter _compressed;
    private readonly CacheCleaner? _cacheCleaner;
    private readonly long _snapshotSize;

    /// <summary>The persistent bitmaps this writer maintains (null: read-only, or bitmaps it cannot maintain).</summary>
    private PersistentBitmaps? _bitmaps;
    private bool _disposed;

    internal Qcow2Image(IBlockDevice file, Qcow2Header header, ImageLayout layout, ImageOpenOptions options, IVirtualDisk? backing, IBlockDevice? dataFile, IDisposable? backingOwner)
    {
        _backingOwner = backingOwner ?? backing;
        _file = new SyncTrackingBlockDevice(file);
        _data = dataFile ?? _file.Data;
        _backing = backing;
        _geo = header.Geometry;
        Name = file.Name;
        Snapshots = layout.Snapshots;
        Snapshot = layout.Snapshot;
        _snapshotSize = layout.VirtualSize;
        bool external = header.HasExternalDataFile;
        _header = new HeaderStore(_file, header, options.ReadOnly || file.IsReadOnly);

        L2CacheEntrySize = options.L2CacheEntrySize is > 0 and var s && s <= _geo.ClusterSize && (s & (s - 1)) == 0 && s >= 512 ? s : _geo.ClusterSize;
        long l2Budget = options.CacheSize > 0 ? options.CacheSize : 32L << 20;
        var l2Cache = new MetadataCache("L2", _file, L2CacheEntrySize, l2Budget);
        var refblocks = new MetadataCache("refcount", _file, _geo.ClusterSize, Math.Max(l2Budget / 4, 4L * _geo.ClusterSize));
        var reftable = new RefcountTableLocation(new HostOffset(header.RefcountTableOffset), header.RefcountTableClusters);
        _refcounts = new RefcountManager(_file, _geo, reftable, layout.RefcountTable, refblocks);
        _refcounts.ValidateTable(layout.FixedRegions);

        _order = new WriteOrder(_file, dataFile, _refcounts, l2Cache);
        _allocator = new ClusterAllocator(_refcounts, _header, layout.MetadataClusters, l2Cache, _file, _geo, external, Statistics);
        _tables = new L2Tables(_file, _geo, layout.L1, l2Cache, layout.MetadataClusters, _header, _allocator, _order, external);
        _mapper = new ClusterMapper(_metaLock, _tables, _geo, header.Version, external, backing, Name);
        _reader = new RunReader(_file, _data, _geo, header.CompressionType, backing);
        _cow = new CopyOnWrite(_metaLock, _tables, _mapper, _allocator, _reader, _order, _data, _geo, external, Statistics);
        _zero = new ZeroWriter(_metaLock, _ranges, _header, _tables, _mapper, _allocator, _cow, _reader, _order, _data, _geo, external);
        _compressed = new CompressedWriter(_metaLock, _ranges, _tables, _allocator, _cow, _order, _file, _geo, header.CompressionType, external, Statistics);
        _cacheCleaner = options.CacheCleanIntervalSeconds > 0 ? new CacheCleaner(this, options.CacheCleanIntervalSeconds) : null;
    }

    public string Name { get; }

    /// <summary>The header as it is on disk (an immutable value; the engine writes changes through its header store).</summary>
    public Qcow2Header Header => _header.Current;

    public Qcow2Statistics Statistics { get; } = new();

    /// <summary>The internal snapshots, parsed and validated at open.</summary>
    public IReadOnlyList<SnapshotTableEntry> Snapshots { get; }

    /// <summary>
    /// The internal snapshot this image shows instead of the live disk (opened read-only, through the same mapping
    /// walker with the snapshot's L1 table), or null for the live disk.
    /// </summary>
    public SnapshotTableEntry? Snapshot { get; }

    /// <summary>The virtual size: the live disk's, or the snapshot's (<see cref="ImageOpenOptions.Snapshot"/>).</summary>
    public long Length => Snapshot is null ? _header.Current.Size : _snapshotSize;

    public bool IsReadOnly => _header.IsReadOnly;

    /// <summary>Bytes of one L2 cache entry (a slice of an L2 table).</summary>
    public int L2CacheEntrySize { get; }

    internal MetadataCache L2Cache => _tables.Cache;

    internal MetadataCache RefcountCache => _refcounts.Blocks;

    /// <summary>The refcount reader/allocator (micro-benchmarks and tests).</summary>
    internal RefcountManager Refcounts => _refcounts;

    internal ClusterGeometry Geometry => _geo;

    /// <summary>The persistent bitmaps maintained by this writer, or null (tests read the memory bound here).</summary>
    internal PersistentBitmaps? Bitmaps => _bitmaps;

    /// <summary>The qcow2 file itself (for tools that read structures the engine does not use, such as bitmaps).</summary>
    internal IBlockDevice Qcow2File => _file;

    public static Qcow2Image Open(string path, ImageOpenOptions? options = null)
    {
        options ??= new ImageOpenOptions();
        return BackingChain.OpenQcow2(path, options, new BackingChain.Context(options));
    }

    /// <summary>Opens an image held by <paramref name="file"/>; <paramref name="backing"/> overrides the chain (for tests and the fuzzer).</summary>
    public static Qcow2Image Open(IBlockDevice file, ImageOpenOptions options, IVirtualDisk? backing = null) =>
        ImageOpener.Open(file, options, backing, dataFile: null);

    public int Read(long offset, Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        int count = (int)Math.Clamp(Length - offset, 0, buffer.Length);
        if (count == 0)
        {
            return 0;
        }

        var start = new GuestOffset(offset);
        using var lease = _ranges.Acquire(_geo.ClusterStart(start).Value, offset + count, exclusive: false);
        for (int done = 0; done < count;)
        {
            Mapping run;
            lock (_metaLock)
            {
                run = _mapper.Map(start + done, count - done);
            }

            _reader.Read(run, start + done, buffer.Slice(done, (int)run.Length));
            done += (int)run.Length;
        }

        return count;
    }

    /// <summary>
    /// In-place writes of data subclusters of COPIED clusters share the guest range and touch no metadata; the rest
    /// holds its range alone and goes through <see cref="CopyOnWrite"/>.
    /// </summary>
    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        EnsureWritable();
        CheckRange(offset, data.Length);
        if (data.IsEmpty)
        {
            return;
        }

        MarkBitmaps(offset, data.Length);

        var start = new GuestOffset(offset);
        long rangeEnd = _geo.NextClusterStart(start + (data.Length - 1)).Value;
        int done = 0;
        try
        {
            using (_ranges.Acquire(_geo.ClusterStart(start).Value, rangeEnd, exclusive: false))
            {
                while (done < data.Length)
                {
                    HostOffset host;
                    int n;
                    lock (_metaLock)
                    {
                        (host, n) = _mapper.InPlaceRun(start + done, data.Length - done);
                    }

                    if (n == 0)
                    {
                        break;
                    }

                    _data.Write(host.Value, data.Slice(done, n));
                    Statistics.AddDataWritten(n);
                    _order.NoteDataWritten();
                    done += n;
                }
            }

            if (done == data.Length)
            {
                return;
            }

            using (_ranges.Acquire(_geo.ClusterStart(start + done).Value, rangeEnd, exclusive: true))
            {
                _cow.Write(start + done, data[done..]);
            }
        }
        catch (ImageCorruptException)
        {
            SignalCorruption();
            throw;
        }

        MaybeFlushDeferredFrees();
    }

    public void WriteZeroes(long offset, long length, bool mayUnmap) =>
        Change(mayUnmap ? ChangeKind.ZeroesMayUnmap : ChangeKind.Zeroes, offset, length, default);

    /// <summary>Guest TRIM (IVirtualDisk contract: the range reads as zeros afterwards); see <see cref="ZeroWriter.Discard"/>.</summary>
    public void Discard(long offset, long length) => Change(ChangeKind.Discard, offset, length, default);

    /// <summary>
    /// Writes <paramref name="data"/> (a whole number of clusters starting at a cluster boundary; the last cluster of
    /// the disk may be partial) compressed where it pays off; see <see cref="CompressedWriter"/>.
    /// </summary>
    public void WriteCompressed(long offset, ReadOnlySpan<byte> data) => Change(ChangeKind.Compressed, offset, data.Length, data);

    /// <summary>
    /// Block status of the run at <paramref name="offset"/> with everything qemu-img map needs: the layer that decides
    /// it (depth), whether any layer allocates it, zero or data, and its host offset where it has one.
    /// </summary>
    public BlockStatus GetBlockStatus(long offset, long maxLength)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _mapper.Status(new GuestOffset(offset), maxLength, Length);
    }

    /// <summary>Sets the virtual size to <paramref name="newSize"/> (a multiple of 512). The caller reopens the image afterwards.</summary>
    internal void Resize(long newSize)
    {
        EnsureWritable();
        _bitmaps?.RefuseResizeIfInconsistent();
        new Resizer(_metaLock, _ranges, _header, _tables, _allocator, _zero, _order, _file, _data, _geo, _header.Current.HasExternalDataFile).Resize(newSize);
    }

    /// <summary>Internal snapshots: create, delete, apply (qemu-img snapshot). The caller reopens the image afterwards.</summary>
    internal Snapshots.SnapshotManager SnapshotManager()
    {
        EnsureWritable();
        return new Snapshots.SnapshotManager(_metaLock, _ranges, _header, _tables, _allocator, _order, _file, _geo);
    }

    /// <summary>
    /// Makes every guest cluster unallocated, as qemu-img commit empties its overlay (see <see cref="ImageEmptier"/>).
    /// The caller reopens the image afterwards.
    /// </summary>
    internal void MakeEmpty()
    {
        EnsureWritable();
        new ImageEmptier(_metaLock, _ranges, _header, _tables, _allocator, _order, _file, _geo).Empty();
    }

    /// <summary>
    /// The header with <paramref name="name"/> as its backing file name and <paramref name="format"/> as its backing
    /// format (both null: no backing file), as <see cref="SetBackingFile"/> would write it; throws
    /// <see cref="ImageFormatException"/> when the name does not fit in cluster 0. Nothing is written.
    /// </summary>
    internal Qcow2Header WithBackingFile(string? name, string? format)
    {
        var next = _header.Current.WithStringExtension(HeaderExtension.BackingFormat, name is null ? null : format) with { BackingFile = name };
        next.Serialize(new byte[_geo.ClusterSize]);
        return next;
    }

    /// <summary>
    /// Rewrites the backing file name and format in the header (qemu-img rebase), after everything written so far is
    /// stable: data copied for a rebase is on disk before the header names the new backing file.
    /// </summary>
    internal void SetBackingFile(string? name, string? format)
    {
        EnsureWritable();
        var next = WithBackingFile(name, format);
        lock (_metaLock)
        {
            FlushAndSignal();
            _header.Commit(next);
        }
    }

    /// <summary>The size of the open backing disk; null when none is open.</summary>
    internal long? BackingLength => _backing?.Length;

    /// <summary>
    /// Makes everything written before the call stable. The write-back and the syncs the write order puts between its
    /// steps run under the metadata lock; the last sync does not (nothing is ordered after it), so other requests map
    /// and write while it runs, and a flush that needs nothing newer than a sync already under way waits for that one
    /// instead of starting another (<see cref="SyncTrackingBlockDevice.FlushCovering"/>): concurrent fsyncs share syncs.
    /// </summary>
    public void Flush()
    {
        // This caller's writes returned before the call, so they are counted by now; the metadata that maps them was
        // written by the latest write-back under the lock, by this flush or an earlier one.
        long needed = _file.ChangeCount;
        lock (_metaLock)
        {
            if (!FlushAndSignal(finalSync: false))
            {
                return;
            }

            needed = Math.Max(needed, _file.LastMetadataChange);
        }

        CpuTurns.BeforeBlocking();
        _file.FlushCovering(needed);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            lock (_metaLock)
            {
                // Bitmaps first (QEMU's order): a resize or snapshot operation has closed the header for writing
                // already, but its bitmaps still go back consistent; a corrupt image keeps them in_use. A failure
                // there (a full disk) must not cost the guest's data: the flush still runs, the bitmaps stay in_use
                // as after a crash, and the failure is reported after it.
                ExceptionDispatchInfo? bitmapFailure = null;
                if (_bitmaps is not null && !_header.Current.IsCorrupt)
                {
                    try
                    {
                        StoreBitmaps();
                    }
                    catch (Exception e) when (e is IOException or ImageCorruptException)
                    {
                        bitmapFailure = ExceptionDispatchInfo.Capture(e);
                    }
                }

                if (!IsReadOnly)
                {
                    FlushAndSignal();
                    _header.ClearDirtyBit();
                }

                bitmapFailure?.Throw();
            }
        }
        finally
        {
            _disposed = true;
            CloseFiles();
        }
    }

    /// <summary>Drops clean cache entries idle for <paramref name="idleMilliseconds"/> (the <see cref="CacheCleaner"/> calls it).</summary>
    internal void CleanCaches(long idleMilliseconds)
    {
        lock (_metaLock)
        {
            if (_disposed)
            {
                return;
            }

            _tables.Cache.DropIdle(idleMilliseconds);
            _refcounts.Blocks.DropIdle(idleMilliseconds);
        }
    }

    /// <summary>
    /// The last step of opening: the bitmap directory validated (any open, as QEMU does); for writing, a corrupt image
    /// is refused, unmaintained autoclear bits cleared and the persistent bitmaps loaded and marked in use.
    /// </summary>
    internal void PrepareForWriting()
    {
        var bitmaps = BitmapDirectory.Read(_file, _header.Current);
        _header.RefuseWritingIfCorrupt(Name);
        if (IsReadOnly)
        {
            return;
        }

        // Autoclear bit 0 stays only over bitmaps kept up to date (set without the extension it names nothing: cleared).
        bool maintained = PersistentBitmaps.CanMaintain(bitmaps);
        _header.ClearUnmaintainedAutoclearBits(maintained && bitmaps.Count > 0);
        if (maintained)
        {
            lock (_metaLock)
            {
                _bitmaps = PersistentBitmaps.Open(_file, _header, _allocator, _order, bitmaps);
            }
        }
    }

    /// <summary>Applying a snapshot would change the disk behind its bitmaps' back: refused while it has any, as QEMU does.</summary>
    internal void RefuseSnapshotApplyWithBitmaps()
    {
        if (_bitmaps is { HasBitmaps: true })
        {
            throw new UnsupportedFeatureException("Device has active dirty bitmaps");
        }
    }

    /// <summary>qemu-img bitmap: <paramref name="edit"/> changes the bitmaps (under the metadata lock); they are stored at close.</summary>
    internal void EditBitmaps(Action<PersistentBitmaps> edit)
    {
        EnsureWritable();
        lock (_metaLock)
        {
            edit(_bitmaps ?? throw new UnsupportedFeatureException($"{Name}: a bitmap has extra data this program does not know; its bitmaps cannot be changed"));
        }
    }

    /// <summary>The clean close of the bitmaps (see <see cref="PersistentBitmaps.Store"/>); corruption met there is signalled like a write's.</summary>
    private void StoreBitmaps()
    {
        try
        {
            _bitmaps!.Store();
        }
        catch (ImageCorruptException)
        {
            SignalCorruption();
            throw;
        }
    }

    internal void CloseFiles()
    {
        _cacheCleaner?.Dispose();
        _data.Dispose();

        _file.Dispose();
        _backingOwner?.Dispose();
    }

    /// <summary>A zero write, discard or compressed write: checked, handed to its part, corruption signalled.</summary>
    private void Change(ChangeKind kind, long offset, long length, ReadOnlySpan<byte> data)
    {
        EnsureWritable();
        CheckRange(offset, length);
        MarkBitmaps(offset, length);
        var start = new GuestOffset(offset);
        try
        {
            switch (kind)
            {
                case ChangeKind.Zeroes or ChangeKind.ZeroesMayUnmap when length > 0:
                    _zero.WriteZeroes(start, length, mayUnmap: kind == ChangeKind.ZeroesMayUnmap);
                    break;
                case ChangeKind.Discard:
                    _zero.Discard(start, length);
                    break;
                case ChangeKind.Compressed:
                    _compressed.Write(start, data, Length);
                    break;
            }
        }
        catch (ImageCorruptException)
        {
            SignalCorruption();
            throw;
        }

        MaybeFlushDeferredFrees();
    }

    /// <summary>
    /// A flush can meet corruption too (a deferred decrement below zero): mark the image, as a write does. Without
    /// <paramref name="finalSync"/> the last sync is the caller's (<see cref="WriteOrder.WriteBackAll"/>). False when
    /// the image is read-only and there is nothing to flush.
    /// </summary>
    private bool FlushAndSignal(bool finalSync = true)
    {
        if (IsReadOnly)
        {
            return false;
        }

        try
        {
            if (finalSync)
            {
                _order.FlushAll();
            }
            else
            {
                _order.WriteBackAll();
            }

            return true;
        }
        catch (ImageCorruptException)
        {
            SignalCorruption();
            throw;
        }
    }

    /// <summary>Called when a request meets inconsistent metadata: mark the image corrupt and stop writing, as QEMU does.</summary>
    private void SignalCorruption()
    {
        lock (_metaLock)
        {
            _header.MarkCorrupt();
        }
    }

    private void MaybeFlushDeferredFrees()
    {
        if (_allocator.DeferredFreeCount > MaxDeferredFrees)
        {
            Flush();
        }
    }

    /// <summary>
    /// Marks a changed guest range in the persistent bitmaps before it is changed (a failed request may have changed
    /// part of it); dirty chunks past the memory budget are stored early. No lock held by the caller.
    /// </summary>
    private void MarkBitmaps(long offset, long length)
    {
        if (_bitmaps is not { IsTracking: true } bitmaps)
        {
            return;
        }

        long span = bitmaps.MarkSpan;
        for (long done = 0; done < length; done += span)
        {
            bitmaps.Mark(offset + done, Math.Min(span, length - done));
            if (bitmaps.IsOverBudget)
            {
                lock (_metaLock)
                {
                    bitmaps.Spill();
                }
            }
        }
    }

    private void EnsureWritable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (IsReadOnly)
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

    private enum ChangeKind
    {
        Zeroes,
        ZeroesMayUnmap,
        Discard,
        Compressed,
    }
}
