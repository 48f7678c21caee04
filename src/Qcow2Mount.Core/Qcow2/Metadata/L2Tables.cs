using System.Buffers;
using System.Buffers.Binary;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Allocation;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2.Metadata;

/// <summary>
/// The active L1 table and the L2 tables it names (spec §4, §7): finding the L2 entry of a guest offset through the
/// L2 cache, validating every L1 and L2 entry on the way (a hostile entry fails the request that meets it, as
/// <see cref="ImageCorruptException"/>), changing L2 entries, and making an L2 table writable (allocated when
/// missing, copied when shared with a snapshot). Entries are raw here; <see cref="ClusterMapper"/> walks them.
/// Ordering rule: a new or copied L2 table, and the refcounts that count it, are stable before the L1 entry that
/// names it is written; the old table's refcount drops later (deferred free). Metadata lock held.
/// </summary>
internal sealed class L2Tables
{
    private readonly SyncTrackingBlockDevice _file;
    private readonly ClusterGeometry _geo;
    private readonly ulong[] _l1;
    private readonly MetadataCache _cache;
    private readonly MetadataClusters _metadata;
    private readonly HeaderStore _header;
    private readonly bool _externalData;
    private readonly string _name;
    private readonly ClusterAllocator _allocator;
    private readonly WriteOrder _order;

    public L2Tables(SyncTrackingBlockDevice file, ClusterGeometry geo, ulong[] l1, MetadataCache cache, MetadataClusters metadata, HeaderStore header, ClusterAllocator allocator, WriteOrder order, bool externalData)
    {
        _file = file;
        _geo = geo;
        _l1 = l1;
        _cache = cache;
        _metadata = metadata;
        _header = header;
        _allocator = allocator;
        _order = order;
        _externalData = externalData;
        _name = file.Name;
    }

    /// <summary>Entries of the active L1 table (its length is fixed while the image is open).</summary>
    public int L1Length => _l1.Length;

    public MetadataCache Cache => _cache;

    public L1Entry L1(long index) => new(_l1[index]);

    /// <summary>The L2 table mapping <paramref name="offset"/>, validated; <see cref="HostOffset.None"/> when there is none.</summary>
    public HostOffset TableFor(GuestOffset offset)
    {
        long l1Index = _geo.L1Index(offset);
        if (l1Index >= _l1.Length)
        {
            return HostOffset.None;
        }

        var l1 = new L1Entry(_l1[l1Index]);
        if (!l1.HasL2Table)
        {
            return HostOffset.None;
        }

        var table = l1.L2Table;
        if (!_geo.IsClusterAligned(table) || l1.HasReservedBits)
        {
            throw new ImageCorruptException($"{_name}: L1 entry {l1Index} (0x{l1.Raw:x16}) has an unaligned L2 table offset or reserved bits set", offset.Value, table.Value);
        }

        if (table.Value >= _file.Length)
        {
            throw new ImageCorruptException($"{_name}: L2 table at {table} for guest offset {offset} lies beyond the end of the file", offset.Value, table.Value);
        }

        var header = _header.Current;
        if (table.Value == header.L1TableOffset || table.Value == header.RefcountTableOffset || table.Value < _geo.ClusterSize
            || _metadata.IsOverlappingL2Table(_geo.ClusterOf(table)))
        {
            throw new ImageCorruptException($"{_name}: L2 table at {table} (L1 entry {l1Index}) overlaps other metadata", offset.Value, table.Value);
        }

        return table;
    }

    /// <summary>The L2 entry mapping <paramref name="offset"/>, validated (the empty entry when no table maps it).</summary>
    public L2Entry Get(GuestOffset offset)
    {
        var table = TableFor(offset);
        if (table.IsNone)
        {
            return default;
        }

        var (slice, index) = Slice(table, offset);
        var entry = Read(slice, index);
        Validate(entry, offset);
        return entry;
    }

    /// <summary>The cached slice of <paramref name="table"/> holding the entry of <paramref name="offset"/>, and the entry's byte position in it.</summary>
    public (byte[] Slice, int Index) Slice(HostOffset table, GuestOffset offset)
    {
        int sliceSize = _cache.EntrySize;
        int inTable = _geo.L2EntryPosition(offset);
        return (_cache.Get(table.Value + (inTable / sliceSize * sliceSize)), inTable % sliceSize);
    }

    public L2Entry Read(byte[] slice, int index) => L2Entry.Read(slice, index, _geo.ExtendedL2);

    /// <summary>Changes the L2 entry of <paramref name="offset"/> in <paramref name="table"/> (a table made writable).</summary>
    public void Set(HostOffset table, GuestOffset offset, L2Entry entry)
    {
        _header.BeforeMetadataChange();
        int sliceSize = _cache.EntrySize;
        int inTable = _geo.L2EntryPosition(offset);
        long slice = table.Value + (inTable / sliceSize * sliceSize);
        int index = inTable % sliceSize;
        entry.Write(_cache.Get(slice), index, _geo.ExtendedL2);
        _cache.MarkDirty(slice, index, _geo.L2EntrySize);
    }

    /// <summary>
    /// Checks an L2 entry met at <paramref name="offset"/>: reserved bits clear; a host cluster aligned, inside the file
    /// and clear of metadata (with an external data file: equal to the guest offset); a compressed cluster per
    /// <see cref="ValidateCompressed"/>.
    /// </summary>
    public void Validate(L2Entry entry, GuestOffset offset)
    {
        if (entry.IsCompressed)
        {
            ValidateCompressed(entry, offset);
            return;
        }

        if (entry.HasReservedBits)
        {
            throw new ImageCorruptException($"{_name}: L2 entry 0x{entry.Raw:x16} for guest offset {_geo.ClusterStart(offset)} has reserved bits set", offset.Value);
        }

        var host = entry.HostClusterOffset;
        if (host.Value == 0)
        {
            return;
        }

        if (_externalData)
        {
            if (host.Value != _geo.ClusterStart(offset).Value)
            {
                throw new ImageCorruptException($"{_name}: external data cluster at host {host} does not match guest offset {_geo.ClusterStart(offset)}", offset.Value, host.Value);
            }

            return;
        }

        if (!_geo.IsClusterAligned(host))
        {
            throw new ImageCorruptException($"{_name}: data cluster offset {host} for guest offset {offset} is not cluster-aligned", offset.Value, host.Value);
        }

        if (host.Value >= _file.Length)
        {
            throw new ImageCorruptException($"{_name}: data cluster at {host} for guest offset {offset} lies beyond the end of the file", offset.Value, host.Value);
        }

        if (_metadata.Contains(_geo.ClusterOf(host)))
        {
            throw new ImageCorruptException($"{_name}: data cluster at {host} for guest offset {offset} overlaps metadata", offset.Value, host.Value);
        }
    }

    /// <summary>
    /// The L2 table for <paramref name="offset"/>, made writable: allocated when missing, copied when shared with a
    /// snapshot (L1 entry without COPIED). Order: the new table and the refcounts are stable before the L1 entry
    /// points at the table; the old table's reference is dropped afterwards (deferred).
    /// </summary>
    public HostOffset MakeWritable(GuestOffset offset)
    {
        long l1Index = _geo.L1Index(offset);
        if (l1Index >= _l1.Length)
        {
            throw new ImageCorruptException($"{_name}: guest offset {offset} is beyond the L1 table", offset.Value);
        }

        var old = TableFor(offset);
        if (!old.IsNone && new L1Entry(_l1[l1Index]).IsCopied)
        {
            return old;
        }

        _header.BeforeMetadataChange();
        var table = _allocator.AllocateL2Table(offset);
        int sliceSize = _cache.EntrySize;
        byte[] rented = ArrayPool<byte>.Shared.Rent(_geo.ClusterSize);
        try
        {
            var content = rented.AsSpan(0, _geo.ClusterSize);
            content.Clear();
            if (!old.IsNone)
            {
                for (int s = 0; s < _geo.ClusterSize; s += sliceSize)
                {
                    _cache.Get(old.Value + s).CopyTo(content[s..]);
                }
            }

            _file.Write(table.Value, content);
            _order.MakeDataAndRefcountsStable(withEarlierWrites: true); // one sync for the table, the data and the refcounts
            for (int s = 0; s < _geo.ClusterSize; s += sliceSize)
            {
                _cache.PutCleanCopy(table.Value + s, content.Slice(s, sliceSize));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        SetL1(l1Index, L1Entry.For(table, copied: true));
        if (!old.IsNone)
        {
            _allocator.ScheduleFree(_geo.ClusterOf(old));
        }

        return table;
    }

    /// <summary>Writes L1 entry <paramref name="index"/> (in memory and in the file, unsynced; the caller orders it).</summary>
    public void SetL1(long index, L1Entry entry)
    {
        _l1[index] = entry.Raw;
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, entry.Raw);
        _file.Write(_header.Current.L1TableOffset + (index * 8), bytes);
    }

    /// <summary>The L1 table's entries, big-endian, into <paramref name="destination"/> (a copy for a new, larger table).</summary>
    public void CopyL1To(Span<byte> destination)
    {
        for (int i = 0; i < _l1.Length; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(destination[(i * 8)..], _l1[i]);
        }
    }

    /// <summary>
    /// A compressed descriptor must point inside the file, past the header, and touch no metadata cluster: a write
    /// or discard over it drops a reference to every host cluster it touches, which must never free metadata.
    /// </summary>
    private void ValidateCompressed(L2Entry entry, GuestOffset offset)
    {
        var cluster = _geo.ClusterStart(offset);
        if (_externalData)
        {
            throw new ImageCorruptException($"{_name}: compressed cluster at guest offset {cluster} in an image with an external data file", offset.Value);
        }

        if (_geo.ExtendedL2 && entry.Bitmap != 0)
        {
            throw new ImageCorruptException($"{_name}: compressed cluster at guest offset {cluster} has a non-zero subcluster bitmap 0x{entry.Bitmap:x16}", offset.Value);
        }

        var d = CompressedDescriptor.Decode(entry, _geo.ClusterBits);
        if (d.HostOffset.Value < _geo.ClusterSize || d.HostOffset.Value >= _file.Length)
        {
            throw new ImageCorruptException($"{_name}: compressed cluster for guest offset {cluster} at host {d.HostOffset} lies outside the file's data area", offset.Value, d.HostOffset.Value);
        }

        var (first, last) = d.HostClusters(_geo);
        for (var c = first; c <= last; c = c.Next)
        {
            if (_metadata.Contains(c))
            {
                throw new ImageCorruptException($"{_name}: compressed cluster for guest offset {cluster} at host {d.HostOffset} (+{d.CompressedLength} bytes) overlaps metadata", offset.Value, d.HostOffset.Value);
            }
        }
    }
}
