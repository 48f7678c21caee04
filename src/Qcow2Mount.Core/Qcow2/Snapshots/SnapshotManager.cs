using System.Buffers.Binary;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Allocation;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2.Snapshots;

/// <summary>
/// Creating, deleting and applying internal snapshots of an open image (spec §10; qemu-img snapshot -c/-d/-a).
/// Refcount rule: a data cluster (or every host cluster of a compressed one) and an L2 table count once per L1 table
/// that reaches them (active and each snapshot), as qemu-img check counts them; COPIED is set exactly on active
/// entries whose refcount is 1. Crash-safe orders (a crash leaks at worst, never frees what is still named):
/// <list type="bullet">
/// <item>Create: the snapshot's L1 copy, and COPIED cleared in the active tables, stable → raised refcounts stable →
/// new snapshot table stable → header names it → old table freed.</item>
/// <item>Delete: new table without the entry stable → header names it → (references stable) refcounts lowered, what
/// reaches 0 freed → COPIED restored on active entries now at refcount 1.</item>
/// <item>COPIED and the refcount it mirrors live in different clusters, so some crash point always sees them disagree
/// (QEMU's orders too; qemu-img check counts it as corruption, -r leaks repairs it). Both orders above leave only the
/// harmless side: a flag missing where the refcount is 1 (the next write copies instead of writing in place), never a
/// flag on a cluster whose refcount is above 1.</item>
/// <item>Apply: the snapshot's references raised and stable → new active L1 (a copy, COPIED clear) stable → header
/// names it with the snapshot's size → old active L1 and what it reached lowered.</item>
/// </list>
/// Each operation holds every guest range and the metadata lock; the image instance is closed for writing afterwards
/// (its L1 array and metadata map are stale), like a resize.
/// </summary>
internal sealed class SnapshotManager
{
    /// <summary>QEMU's limit on nb_snapshots.</summary>
    private const int MaxSnapshots = 65536;

    /// <summary>Extra data qemu-img writes: VM state size (64-bit), virtual disk size, icount.</summary>
    private const int ExtraDataLength = 24;

    private readonly object _metaLock;
    private readonly GuestRangeLock _ranges;
    private readonly HeaderStore _header;
    private readonly L2Tables _tables;
    private readonly ClusterAllocator _allocator;
    private readonly WriteOrder _order;
    private readonly SyncTrackingBlockDevice _file;
    private readonly ClusterGeometry _geo;

    public SnapshotManager(object metaLock, GuestRangeLock ranges, HeaderStore header, L2Tables tables, ClusterAllocator allocator, WriteOrder order, SyncTrackingBlockDevice file, ClusterGeometry geo)
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

    /// <summary>Creates a snapshot of the disk as it is now, named <paramref name="name"/>, with the next free numeric ID.</summary>
    public SnapshotTableEntry Create(string name, DateTimeOffset now)
    {
        using var lease = _ranges.Acquire(0, long.MaxValue, exclusive: true);
        lock (_metaLock)
        {
            var (entries, tableLength) = Begin();
            if (entries.Count >= MaxSnapshots)
            {
                throw new UnsupportedFeatureException($"{_file.Name}: the image has the most snapshots QEMU allows ({MaxSnapshots})");
            }

            var active = ActiveL1();
            var increments = CountReferences(active, isActive: true);
            CheckRoom(increments);

            int l1Bytes = active.Length * 8;
            var l1Copy = new HostOffset(0);
            if (l1Bytes > 0)
            {
                int clusters = (int)_geo.ClustersFor(l1Bytes);
                l1Copy = _allocator.AllocateTable(clusters);
                var content = new byte[(long)clusters * _geo.ClusterSize];
                for (int i = 0; i < active.Length; i++)
                {
                    BinaryPrimitives.WriteUInt64BigEndian(content.AsSpan(i * 8), new L1Entry(active[i]).WithCopied(false).Raw);
                }

                _file.Write(l1Copy.Value, content);
            }

            // COPIED off before the refcounts rise: a crash between the two leaves a flag missing where the refcount is
            // still 1 (costs a copy-on-write), never a flag on a cluster a snapshot shares.
            UpdateCopiedFlags(active, updateL1: true, shared: true);
            _order.FlushAll();
            Raise(increments);
            _order.MakeDataAndRefcountsStable();
            _file.Flush();

            var extra = new byte[ExtraDataLength];
            BinaryPrimitives.WriteUInt64BigEndian(extra.AsSpan(8), (ulong)_header.Current.Size);
            long micros = (now.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
            var entry = new SnapshotTableEntry
            {
                L1TableOffset = l1Copy.Value,
                L1Size = (uint)active.Length,
                Id = NextId(entries),
                Name = name,
                DateSeconds = (uint)(micros / 1_000_000),
                DateNanoseconds = (uint)(micros % 1_000_000 * 1000),
                ExtraData = extra,
            };
            entries.Add(entry);
            WriteTable(entries, tableLength);
            Finish();
            return entry;
        }
    }

    /// <summary>Deletes the first snapshot named <paramref name="name"/> (qemu-img snapshot -d matches names only).</summary>
    public void Delete(string name)
    {
        using var lease = _ranges.Acquire(0, long.MaxValue, exclusive: true);
        lock (_metaLock)
        {
            var (entries, tableLength) = Begin();
            int index = entries.FindIndex(e => e.Name == name);
            if (index < 0)
            {
                throw new SnapshotNotFoundException(name);
            }

            var snapshot = entries[index];
            var l1 = SnapshotL1(snapshot);
            var decrements = CountReferences(l1, isActive: false);
            entries.RemoveAt(index);
            WriteTable(entries, tableLength);

            // The header no longer names the snapshot (synced): its references may go.
            Lower(decrements);
            if (snapshot.L1Size > 0)
            {
                _allocator.ScheduleFree(new HostOffset(snapshot.L1TableOffset), _geo.ClustersFor((long)snapshot.L1Size * 8));
            }

            _order.FlushAll();
            UpdateCopiedFlags(ActiveL1(), updateL1: true);
            Finish();
        }
    }

    /// <summary>Reverts the disk to the snapshot with ID (first) or name <paramref name="idOrName"/>, its size included.</summary>
    public void Apply(string idOrName)
    {
        using var lease = _ranges.Acquire(0, long.MaxValue, exclusive: true);
        lock (_metaLock)
        {
            var (entries, _) = Begin();
            var snapshot = entries.Find(e => e.Id == idOrName) ?? entries.Find(e => e.Name == idOrName)
                ?? throw new SnapshotNotFoundException(idOrName);
            var snapshotL1 = SnapshotL1(snapshot);
            var increments = CountReferences(snapshotL1, isActive: false);
            CheckRoom(increments);
            var oldL1 = ActiveL1();
            var decrements = CountReferences(oldL1, isActive: true);

            long size = snapshot.DiskSize >= 0 ? snapshot.DiskSize : _header.Current.Size;
            long entriesNeeded = Math.Max(Math.Max(snapshotL1.Length, oldL1.Length), _geo.L1EntriesFor(size));
            Raise(increments);
            _order.MakeDataAndRefcountsStable();
            _file.Flush();

            // Everything the new active L1 reaches is shared with the snapshot now (refcount >= 2): no COPIED anywhere.
            UpdateCopiedFlags(snapshotL1, updateL1: false, shared: true);
            _order.FlushAll();
            int clusters = (int)_geo.ClustersFor(entriesNeeded * 8);
            var table = _allocator.AllocateTable(Math.Max(clusters, 1));
            var content = new byte[(long)Math.Max(clusters, 1) * _geo.ClusterSize];
            for (int i = 0; i < snapshotL1.Length; i++)
            {
                BinaryPrimitives.WriteUInt64BigEndian(content.AsSpan(i * 8), new L1Entry(snapshotL1[i]).WithCopied(false).Raw);
            }

            _file.Write(table.Value, content);
            _order.MakeDataAndRefcountsStable();
            _file.Flush();
            var old = _header.Current;
            _header.Commit(old with { L1TableOffset = table.Value, L1Size = (uint)entriesNeeded, Size = size });

            Lower(decrements);
            if (old.L1Size > 0)
            {
                _allocator.ScheduleFree(new HostOffset(old.L1TableOffset), _geo.ClustersFor((long)old.L1Size * 8));
            }

            _order.FlushAll();
            Finish();
        }
    }

    /// <summary>Refuses what QEMU refuses, marks the change (dirty bit), flushes every cache so the file is current, reads the table.</summary>
    private (List<SnapshotTableEntry> Entries, long Length) Begin()
    {
        if (_header.IsReadOnly)
        {
            throw new ReadOnlyImageException(_file.Name);
        }

        if (_header.Current.HasExternalDataFile)
        {
            throw new UnsupportedFeatureException($"{_file.Name}: internal snapshots are not allowed with an external data file: Operation not supported");
        }

        _header.BeforeMetadataChange();
        _order.FlushAll();
        return SnapshotTable.Read(_file, _header.Current);
    }

    /// <summary>Everything stable; the instance stops writing (its L1 array and metadata map are stale), as after a resize.</summary>
    private void Finish()
    {
        _order.FlushAll();
        _header.ClearDirtyBit();
        _header.MakeReadOnly();
    }

    /// <summary>
    /// Writes <paramref name="entries"/> as a new table in new clusters, stable before the header names it; the old
    /// table (<paramref name="oldLength"/> bytes at the header's snapshots_offset) is freed afterwards.
    /// </summary>
    private void WriteTable(List<SnapshotTableEntry> entries, long oldLength)
    {
        var old = _header.Current;
        var bytes = SnapshotTableEntry.SerializeTable(entries);
        long offset = 0;
        if (bytes.Length > 0)
        {
            int clusters = (int)_geo.ClustersFor(bytes.Length);
            offset = _allocator.AllocateTable(clusters).Value;
            var content = new byte[(long)clusters * _geo.ClusterSize];
            bytes.CopyTo(content, 0);
            _file.Write(offset, content);
        }

        _order.MakeDataAndRefcountsStable();
        _file.Flush();
        _header.Commit(old with { SnapshotCount = (uint)entries.Count, SnapshotsOffset = offset });
        if (oldLength > 0)
        {
            _allocator.ScheduleFree(new HostOffset(old.SnapshotsOffset), _geo.ClustersFor(oldLength));
        }
    }

    private ulong[] ActiveL1()
    {
        var l1 = new ulong[_tables.L1Length];
        for (int i = 0; i < l1.Length; i++)
        {
            l1[i] = _tables.L1(i).Raw;
        }

        return l1;
    }

    /// <summary>A snapshot's L1 table, read and checked to lie inside the file.</summary>
    private ulong[] SnapshotL1(SnapshotTableEntry snapshot)
    {
        long bytes = (long)snapshot.L1Size * 8;
        if (bytes > ImageLayout.MaxL1Bytes || snapshot.L1TableOffset < 0 || snapshot.L1TableOffset + bytes > _file.Length
            || (bytes > 0 && !_geo.IsClusterAligned(new HostOffset(snapshot.L1TableOffset))))
        {
            throw new ImageCorruptException($"{_file.Name}: snapshot '{snapshot.Name}' has an invalid L1 table (0x{snapshot.L1TableOffset:x}, {snapshot.L1Size} entries)", hostOffset: snapshot.L1TableOffset);
        }

        var raw = new byte[bytes];
        _file.Read(snapshot.L1TableOffset, raw);
        var l1 = new ulong[snapshot.L1Size];
        for (int i = 0; i < l1.Length; i++)
        {
            l1[i] = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
        }

        return l1;
    }

    /// <summary>The L2 table an L1 entry names (null for none), checked, read from the file (caches were flushed).</summary>
    private byte[]? ReadL2(L1Entry entry, long index)
    {
        if (!entry.HasL2Table)
        {
            return null;
        }

        var table = entry.L2Table;
        var header = _header.Current;
        if (entry.HasReservedBits || !_geo.IsClusterAligned(table) || table.Value < _geo.ClusterSize || table.Value >= _file.Length
            || table.Value == header.L1TableOffset || table.Value == header.RefcountTableOffset || table.Value == header.SnapshotsOffset)
        {
            throw new ImageCorruptException($"{_file.Name}: L1 entry {index} (0x{entry.Raw:x16}) names an invalid L2 table", hostOffset: table.Value);
        }

        var data = new byte[_geo.ClusterSize];
        _file.Read(table.Value, data);
        return data;
    }

    /// <summary>
    /// How many references each host cluster gets from the L2 tables and data an L1 table reaches, every entry checked
    /// as a read of it would be (a table or data cluster that is metadata, unaligned or past the end is corrupt), so a
    /// broken mapping is refused before any refcount changes. <paramref name="isActive"/>: the active L1, whose tables
    /// must also own their clusters.
    /// </summary>
    private Dictionary<long, int> CountReferences(ulong[] l1, bool isActive)
    {
        var counts = new Dictionary<long, int>();
        var tables = new HashSet<long>();
        void Add(HostCluster c) => counts[c.Index] = counts.GetValueOrDefault(c.Index) + 1;
        for (int i = 0; i < l1.Length; i++)
        {
            var entry = new L1Entry(l1[i]);
            if (isActive)
            {
                _tables.TableFor(_geo.L2TableStart(i));
            }

            var table = ReadL2(entry, i);
            if (table is null)
            {
                continue;
            }

            if (!tables.Add(entry.L2Table.Value))
            {
                throw new ImageCorruptException($"{_file.Name}: L2 table at {entry.L2Table} is named by two L1 entries (the second is {i})", hostOffset: entry.L2Table.Value);
            }

            Add(_geo.ClusterOf(entry.L2Table));
            for (int pos = 0, n = 0; pos < table.Length; pos += _geo.L2EntrySize, n++)
            {
                var l2 = L2Entry.Read(table, pos, _geo.ExtendedL2);
                var guest = _geo.L2TableStart(i) + ((long)n * _geo.ClusterSize);
                _tables.Validate(l2, guest);
                if (SubclusterDecoder.IsInvalid(l2, _geo.ExtendedL2))
                {
                    throw new ImageCorruptException($"{_file.Name}: L2 entry 0x{l2.Raw:x16} (bitmap 0x{l2.Bitmap:x16}) for guest offset {guest} has a contradictory subcluster bitmap", guest.Value);
                }

                foreach (var c in References(l2))
                {
                    Add(c);
                }
            }
        }

        return counts;
    }

    /// <summary>The host clusters an L2 entry holds a reference to.</summary>
    private IEnumerable<HostCluster> References(L2Entry entry)
    {
        if (entry.IsCompressed)
        {
            var (first, last) = CompressedDescriptor.Decode(entry, _geo.ClusterBits).HostClusters(_geo);
            for (var c = first; c <= last; c = c.Next)
            {
                yield return c;
            }
        }
        else if (entry.HostClusterOffset.Value != 0)
        {
            yield return _geo.ClusterOf(entry.HostClusterOffset);
        }
    }

    /// <summary>Refuses before anything changes when a raised refcount would not fit refcount_bits (QEMU fails half way: EINVAL).</summary>
    private void CheckRoom(Dictionary<long, int> increments)
    {
        foreach (var (index, n) in increments)
        {
            var cluster = new HostCluster(index);
            ulong now = _allocator.GetRefcount(cluster);
            if (now == 0)
            {
                throw new ImageCorruptException($"{_file.Name}: {_geo.StartOf(cluster)} is in use but its refcount is 0", hostOffset: _geo.StartOf(cluster).Value);
            }

            if (now + (ulong)n > _geo.MaxRefcount)
            {
                throw new UnsupportedFeatureException($"{_file.Name}: the refcount of cluster {_geo.StartOf(cluster)} would exceed {_geo.MaxRefcount} (refcount_bits={_geo.RefcountBits}): Invalid argument");
            }
        }
    }

    private void Raise(Dictionary<long, int> increments)
    {
        foreach (var (index, n) in increments)
        {
            for (int k = 0; k < n; k++)
            {
                _allocator.AddReference(new HostCluster(index));
            }
        }
    }

    /// <summary>Deferred decrements (applied by the next flush, after the removed references are stable).</summary>
    private void Lower(Dictionary<long, int> decrements)
    {
        foreach (var (index, n) in decrements)
        {
            for (int k = 0; k < n; k++)
            {
                _allocator.ScheduleFree(new HostCluster(index));
            }
        }
    }

    /// <summary>
    /// Sets COPIED exactly where the refcount is 1 (spec §4/§7) on the L2 entries of the tables <paramref name="l1"/>
    /// names, and on the active L1 entries when <paramref name="updateL1"/>; with <paramref name="shared"/>, clears it
    /// everywhere (every cluster is about to be, or is, shared with a snapshot). Entries of a shared table are only
    /// cleared (their clusters are shared too).
    /// </summary>
    private void UpdateCopiedFlags(ulong[] l1, bool updateL1, bool shared = false)
    {
        for (int i = 0; i < l1.Length; i++)
        {
            var l1Entry = new L1Entry(l1[i]);
            var table = ReadL2(l1Entry, i);
            if (table is null)
            {
                continue;
            }

            bool tableExclusive = !shared && _allocator.GetRefcount(_geo.ClusterOf(l1Entry.L2Table)) == 1;
            if (updateL1 && l1Entry.IsCopied != tableExclusive)
            {
                _tables.SetL1(i, l1Entry.WithCopied(tableExclusive));
            }

            for (int pos = 0, n = 0; pos < table.Length; pos += _geo.L2EntrySize, n++)
            {
                var entry = L2Entry.Read(table, pos, _geo.ExtendedL2);
                bool copied = !entry.IsCompressed && entry.HostClusterOffset.Value != 0 && tableExclusive
                    && _allocator.GetRefcount(_geo.ClusterOf(entry.HostClusterOffset)) == 1;
                if (!entry.IsCompressed && entry.IsCopied != copied)
                {
                    _tables.Set(l1Entry.L2Table, _geo.L2TableStart(i) + ((long)n * _geo.ClusterSize), entry.WithCopied(copied));
                }
            }
        }
    }

    /// <summary>QEMU's choice: one more than the largest numeric ID.</summary>
    private static string NextId(List<SnapshotTableEntry> entries)
    {
        ulong max = 0;
        foreach (var e in entries)
        {
            if (ulong.TryParse(e.Id, out ulong id) && id > max)
            {
                max = id;
            }
        }

        return (max + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}
