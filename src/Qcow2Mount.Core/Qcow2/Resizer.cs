using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Allocation;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// Changing the virtual size of an open image (qemu-behaviour.md §6.4, §5). Growing: when more L1 entries are needed
/// a new, exact-size L1 table is allocated, written and flushed before one header write switches l1_size,
/// l1_table_offset and size; the old table is freed after that. Shrinking: the part of the new last cluster past the
/// new end is zeroed, every cluster past it is fully discarded (entry 0, so nothing stale can reappear), L2 tables
/// wholly past it are unhooked from L1 and freed, then the header takes the new size and the file is cut after its
/// last used cluster. The L1 array of the instance is fixed in size, so afterwards the instance is closed for writing
/// (its clean close: the dirty bit goes) and the caller reopens the image to use it.
/// </summary>
internal sealed class Resizer
{
    private readonly object _metaLock;
    private readonly GuestRangeLock _ranges;
    private readonly HeaderStore _header;
    private readonly L2Tables _tables;
    private readonly ClusterAllocator _allocator;
    private readonly ZeroWriter _zero;
    private readonly WriteOrder _order;
    private readonly SyncTrackingBlockDevice _file;
    private readonly IBlockDevice _data;
    private readonly ClusterGeometry _geo;
    private readonly bool _externalData;

    public Resizer(object metaLock, GuestRangeLock ranges, HeaderStore header, L2Tables tables, ClusterAllocator allocator, ZeroWriter zero, WriteOrder order, SyncTrackingBlockDevice file, IBlockDevice data, ClusterGeometry geo, bool externalData)
    {
        _metaLock = metaLock;
        _ranges = ranges;
        _header = header;
        _tables = tables;
        _allocator = allocator;
        _zero = zero;
        _order = order;
        _file = file;
        _data = data;
        _geo = geo;
        _externalData = externalData;
    }

    /// <summary>Sets the virtual size to <paramref name="newSize"/> (a multiple of 512), holding every guest range.</summary>
    public void Resize(long newSize)
    {
        if (newSize <= 0 || newSize % 512 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(newSize), "the new size must be a positive multiple of 512");
        }

        if (_header.Current.Version < 3 && _header.Current.SnapshotCount > 0)
        {
            // A v2 snapshot records no disk size: QEMU could no longer apply it after the size changed.
            throw new UnsupportedFeatureException($"{_file.Name}: Can't resize a v2 image which has snapshots");
        }

        long needed = _geo.L1EntriesFor(newSize);
        if (needed * 8 > ImageLayout.MaxL1Bytes)
        {
            throw new ArgumentOutOfRangeException(nameof(newSize), "the new size is too large for this cluster size");
        }

        using var lease = _ranges.Acquire(0, long.MaxValue, exclusive: true);
        lock (_metaLock)
        {
            _header.BeforeMetadataChange();
            _order.FlushAll();
            bool shrink = newSize < _header.Current.Size;
            if (shrink)
            {
                ZeroTailOfLastCluster(newSize);
                DiscardBeyond(newSize);
            }

            if (needed > _tables.L1Length)
            {
                GrowL1(needed, newSize);
            }
            else
            {
                _header.Commit(_header.Current with { Size = newSize });
            }

            if (_externalData && _header.Current.IsDataFileRaw)
            {
                _data.SetLength(newSize);
                _data.Flush();
            }

            _order.FlushAll();
            if (shrink)
            {
                _allocator.TruncateAfterLastUsedCluster();
                _file.FlushIfUnsynced();
            }

            // The L1 array cannot change length in place: no further writes through this instance, so this is its
            // clean close (Dispose skips a read-only image).
            _header.ClearDirtyBit();
            _header.MakeReadOnly();
        }
    }

    /// <summary>Allocates and writes an L1 table of <paramref name="entries"/>, then switches the header to it (size included).</summary>
    private void GrowL1(long entries, long newSize)
    {
        int clusters = (int)_geo.ClustersFor(entries * 8);
        var old = _header.Current;
        var table = _allocator.AllocateTable(clusters);
        _order.MakeDataAndRefcountsStable();

        var content = new byte[(long)clusters * _geo.ClusterSize];
        _tables.CopyL1To(content);
        _file.Write(table.Value, content);
        _file.Flush();

        _header.Commit(old with { L1Size = (uint)entries, L1TableOffset = table.Value, Size = newSize });
        if (old.L1TableOffset != 0)
        {
            _allocator.ScheduleFree(new HostOffset(old.L1TableOffset), _geo.ClustersFor((long)old.L1Size * 8));
        }
    }

    /// <summary>
    /// The part of the new last cluster past <paramref name="newSize"/> is zeroed (zero bits, zero flag or zero bytes,
    /// through the ordinary zero path) while it is still inside the disk. The discard that follows only covers whole
    /// clusters, so without this the bytes written there (any allocated subcluster, not only the one at the new end)
    /// would read back after a later grow, by us or by QEMU, which zeroes only an allocated run at the old end.
    /// </summary>
    private void ZeroTailOfLastCluster(long newSize)
    {
        var from = new GuestOffset(newSize);
        long end = Math.Min(_header.Current.Size, _geo.NextClusterStart(from).Value);
        if (_geo.IsClusterAligned(from) || end <= newSize)
        {
            return;
        }

        _zero.ZeroRange(from, new GuestOffset(end), mayUnmap: false);
    }

    /// <summary>Full discard of every cluster from the first cluster boundary at or after <paramref name="newSize"/>.</summary>
    private void DiscardBeyond(long newSize)
    {
        var newEnd = new GuestOffset(newSize);
        var start = _geo.IsClusterAligned(newEnd) ? newEnd : _geo.NextClusterStart(newEnd);
        var end = new GuestOffset(_header.Current.Size);
        var emptiedTables = new List<long>();
        for (var pos = start; pos < end;)
        {
            long l1Index = _geo.L1Index(pos);
            var tableStart = _geo.L2TableStart(l1Index);
            var tableEnd = _geo.L2TableStart(l1Index + 1);
            if (l1Index >= _tables.L1Length || _tables.TableFor(pos).IsNone)
            {
                pos = tableEnd;
                continue;
            }

            var l2Table = _tables.MakeWritable(pos);
            for (var c = pos; c < GuestOffset.Min(end, tableEnd); c += _geo.ClusterSize)
            {
                var old = _tables.Get(c);
                if (!old.IsEmpty)
                {
                    _tables.Set(l2Table, c, default);
                    _allocator.Release(old);
                }
            }

            if (start <= tableStart)
            {
                emptiedTables.Add(l1Index);
            }

            pos = tableEnd;
        }

        // L2 entries (and the data they no longer reference) first, then the L1 entries, then the frees.
        _order.FlushAll();
        foreach (long i in emptiedTables)
        {
            var table = _tables.L1(i).L2Table;
            _tables.SetL1(i, default);
            _allocator.ScheduleFree(_geo.ClusterOf(table));
        }

        _file.Flush();
        _header.Commit(_header.Current with { Size = newSize });
    }
}
