using Qcow2Mount.Core.Qcow2.Allocation;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// Empties the live disk of an image, as qemu-img commit does to its overlay: every guest cluster becomes unallocated
/// (it reads through to the backing file again, or zeros without one), the way QEMU's make-empty leaves it (every L1
/// entry 0, no L2 table, the file cut after its last used cluster). Internal snapshots keep everything they reference.
/// Order: dirty L2 slices written and synced, then the L1 entries zeroed and synced, then the references the active
/// L1 held (each L2 table and, once per table, every cluster its entries name) are dropped; a crash in between leaves
/// refcounts too high (leaks), never too low. Holds every guest range; afterwards the instance is closed for writing.
/// </summary>
internal sealed class ImageEmptier
{
    private readonly object _metaLock;
    private readonly GuestRangeLock _ranges;
    private readonly HeaderStore _header;
    private readonly L2Tables _tables;
    private readonly ClusterAllocator _allocator;
    private readonly WriteOrder _order;
    private readonly SyncTrackingBlockDevice _file;
    private readonly ClusterGeometry _geo;

    public ImageEmptier(object metaLock, GuestRangeLock ranges, HeaderStore header, L2Tables tables, ClusterAllocator allocator, WriteOrder order, SyncTrackingBlockDevice file, ClusterGeometry geo)
    {
        _metaLock = metaLock;
        _ranges = ranges;
        _header = header;
        _tables = tables;
        _allocator = allocator;
        _order = order;
        _file = file;
        _geo = geo;
    }

    public void Empty()
    {
        using var lease = _ranges.Acquire(0, long.MaxValue, exclusive: true);
        lock (_metaLock)
        {
            var hooked = new List<(long L1Index, HostOffset Table)>();
            for (long i = 0; i < _tables.L1Length; i++)
            {
                var table = _tables.L1(i).L2Table;
                if (!table.IsNone)
                {
                    hooked.Add((i, table));
                    ForEachEntry(i, table, (entry, guest) => _tables.Validate(entry, guest));
                }
            }

            // Every entry checked before the first change: an entry naming metadata must never lower its refcount.
            _header.BeforeMetadataChange();
            _order.FlushAll();
            foreach (var (index, _) in hooked)
            {
                _tables.SetL1(index, default);
            }

            _file.Flush();
            // The freed clusters mostly end up past the cut: their holes are punched afterwards, in runs, if still inside.
            _allocator.HoldHoles();
            try
            {
                foreach (var (index, table) in hooked)
                {
                    ForEachEntry(index, table, (entry, _) => _allocator.Release(entry));
                    _allocator.ScheduleFree(_geo.ClusterOf(table));
                }

                _order.FlushAll();
                _allocator.TruncateAfterLastUsedCluster();
            }
            finally
            {
                _allocator.PunchHeldHoles();
            }

            _file.FlushIfUnsynced();
            _header.ClearDirtyBit();
            _header.MakeReadOnly();
        }
    }

    /// <summary>Calls <paramref name="action"/> with every non-empty entry of the L2 table of L1 entry <paramref name="l1Index"/>.</summary>
    private void ForEachEntry(long l1Index, HostOffset table, Action<L2Entry, GuestOffset> action)
    {
        var first = _geo.L2TableStart(l1Index);
        for (int k = 0; k < _geo.L2Entries; k++)
        {
            var guest = first + ((long)k * _geo.ClusterSize);
            var (slice, index) = _tables.Slice(table, guest);
            var entry = _tables.Read(slice, index);
            if (!entry.IsEmpty)
            {
                action(entry, guest);
            }
        }
    }
}
