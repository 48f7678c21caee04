using System.Buffers.Binary;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>Guest → host translation: L1 and L2 lookups, validated, and the one loop that turns a range into runs.</summary>
public sealed partial class Qcow2Image
{
    /// <summary>What a run of guest bytes maps to.</summary>
    internal enum RunKind : byte
    {
        /// <summary>Bytes at <see cref="Run.HostOffset"/> in the data file.</summary>
        Data,

        /// <summary>Reads as zeros (zero flag or zero subclusters).</summary>
        Zero,

        /// <summary>Not allocated here: the backing chain, or zeros without one.</summary>
        Backing,

        /// <summary>Inside a compressed cluster (<see cref="Run.Entry"/>).</summary>
        Compressed,
    }

    internal readonly record struct Run(RunKind Kind, long Length, long HostOffset, L2Entry Entry);

    internal static RunKind KindOf(SubclusterState state) => state switch
    {
        SubclusterState.Normal => RunKind.Data,
        SubclusterState.ZeroPlain or SubclusterState.ZeroAlloc => RunKind.Zero,
        SubclusterState.UnallocatedPlain or SubclusterState.UnallocatedAlloc => RunKind.Backing,
        SubclusterState.Compressed => RunKind.Compressed,
        _ => throw new InvalidOperationException("invalid subcluster state has no run kind"),
    };

    /// <summary>The run starting at <paramref name="offset"/> (at most <paramref name="maxLength"/> bytes). Caller holds the metadata lock.</summary>
    internal Run Translate(long offset, long maxLength)
    {
        var entry = GetL2Entry(offset);
        var first = RunWithinCluster(entry, offset, maxLength);
        long length = first.Length;
        if (first.Kind == RunKind.Compressed)
        {
            return first;
        }

        // Extend across following clusters while the kind stays the same (and data stays host-contiguous).
        while (length < maxLength && _geo.IsClusterAligned(offset + length))
        {
            long next = offset + length;
            var e = GetL2Entry(next);
            var r = RunWithinCluster(e, next, maxLength - length);
            if (r.Kind != first.Kind || (r.Kind == RunKind.Data && r.HostOffset != first.HostOffset + length))
            {
                break;
            }

            length += r.Length;
            if (r.Length < _geo.ClusterSize)
            {
                break;
            }
        }

        return first with { Length = length };
    }

    private Run RunWithinCluster(L2Entry entry, long offset, long maxLength)
    {
        int inCluster = _geo.OffsetInCluster(offset);
        int sc = inCluster / _geo.SubclusterSize;
        var state = Decode(entry, sc, offset);
        var kind = KindOf(state);
        int end = (sc + 1) * _geo.SubclusterSize;
        if (kind == RunKind.Compressed)
        {
            end = _geo.ClusterSize;
        }

        while (end < _geo.ClusterSize && KindOf(Decode(entry, end / _geo.SubclusterSize, offset)) == kind)
        {
            end += _geo.SubclusterSize;
        }

        long length = Math.Min(end - inCluster, maxLength);
        long host = kind == RunKind.Data ? HostClusterOf(entry, offset) + inCluster : -1;
        return new Run(kind, length, host, entry);
    }

    private SubclusterState Decode(L2Entry entry, int subcluster, long guestOffset)
    {
        var state = SubclusterDecoder.Decode(entry, _geo.ExtendedL2, subcluster, _externalData);
        if (state == SubclusterState.Invalid)
        {
            throw new ImageCorruptException($"{Name}: L2 entry for guest offset 0x{_geo.ClusterStart(guestOffset):x} has a subcluster both allocated and zero, or allocated without a host cluster", guestOffset);
        }

        if (!_geo.ExtendedL2 && entry.HasZeroFlag && _header.Version == 2)
        {
            throw new ImageCorruptException($"{Name}: zero cluster entry found in a version 2 image at guest offset 0x{_geo.ClusterStart(guestOffset):x}", guestOffset);
        }

        return state;
    }

    /// <summary>Host cluster of an allocated standard entry; with an external data file the guest offset itself.</summary>
    private long HostClusterOf(L2Entry entry, long guestOffset) =>
        _externalData ? _geo.ClusterStart(guestOffset) : entry.HostClusterOffset;

    /// <summary>The L2 entry mapping <paramref name="guestOffset"/>, validated. Caller holds the metadata lock.</summary>
    internal L2Entry GetL2Entry(long guestOffset)
    {
        long l2Table = L2TableFor(guestOffset);
        if (l2Table == 0)
        {
            return default;
        }

        var (slice, index) = SliceFor(l2Table, guestOffset);
        var entry = ReadEntry(_l2Cache.Get(slice), index);
        ValidateEntry(entry, guestOffset);
        return entry;
    }

    /// <summary>L2 table offset from the L1 table (0 = none), validated.</summary>
    private long L2TableFor(long guestOffset)
    {
        long l1Index = _geo.L1Index(guestOffset);
        if (l1Index >= _l1.Length)
        {
            return 0;
        }

        var l1 = new L1Entry(_l1[l1Index]);
        long table = l1.L2TableOffset;
        if (table == 0)
        {
            return 0;
        }

        if (!_geo.IsClusterAligned(table) || l1.HasReservedBits)
        {
            throw new ImageCorruptException($"{Name}: L1 entry {l1Index} (0x{l1.Raw:x16}) has an unaligned L2 table offset or reserved bits set", guestOffset, table);
        }

        if (table >= _file.Length)
        {
            throw new ImageCorruptException($"{Name}: L2 table at 0x{table:x} for guest offset 0x{guestOffset:x} lies beyond the end of the file", guestOffset, table);
        }

        if (table == _header.L1TableOffset || table == _header.RefcountTableOffset || table < _geo.ClusterSize
            || _overlappingL2Tables.Contains(table >> _geo.ClusterBits))
        {
            throw new ImageCorruptException($"{Name}: L2 table at 0x{table:x} (L1 entry {l1Index}) overlaps other metadata", guestOffset, table);
        }

        return table;
    }

    private (long Slice, int Index) SliceFor(long l2Table, long guestOffset)
    {
        long byteInTable = (long)_geo.L2Index(guestOffset) * _geo.L2EntrySize;
        long slice = l2Table + (byteInTable / _l2SliceSize * _l2SliceSize);
        return (slice, (int)(byteInTable % _l2SliceSize));
    }

    private L2Entry ReadEntry(byte[] slice, int index)
    {
        ulong raw = BinaryPrimitives.ReadUInt64BigEndian(slice.AsSpan(index));
        ulong bitmap = _geo.ExtendedL2 ? BinaryPrimitives.ReadUInt64BigEndian(slice.AsSpan(index + 8)) : 0;
        return new L2Entry(raw, bitmap);
    }

    private void WriteEntry(long l2Table, long guestOffset, L2Entry entry)
    {
        BeforeMetadataChange();
        var (slice, index) = SliceFor(l2Table, guestOffset);
        var data = _l2Cache.Get(slice);
        BinaryPrimitives.WriteUInt64BigEndian(data.AsSpan(index), entry.Raw);
        if (_geo.ExtendedL2)
        {
            BinaryPrimitives.WriteUInt64BigEndian(data.AsSpan(index + 8), entry.Bitmap);
        }

        _l2Cache.MarkDirty(slice);
    }

    private void ValidateEntry(L2Entry entry, long guestOffset)
    {
        if (entry.IsCompressed)
        {
            ValidateCompressedEntry(entry, guestOffset);
            return;
        }

        if (entry.HasReservedBits)
        {
            throw new ImageCorruptException($"{Name}: L2 entry 0x{entry.Raw:x16} for guest offset 0x{_geo.ClusterStart(guestOffset):x} has reserved bits set", guestOffset);
        }

        long host = entry.HostClusterOffset;
        if (host == 0)
        {
            return;
        }

        if (_externalData)
        {
            if (host != _geo.ClusterStart(guestOffset))
            {
                throw new ImageCorruptException($"{Name}: external data cluster at host 0x{host:x} does not match guest offset 0x{_geo.ClusterStart(guestOffset):x}", guestOffset, host);
            }

            return;
        }

        if (!_geo.IsClusterAligned(host))
        {
            throw new ImageCorruptException($"{Name}: data cluster offset 0x{host:x} for guest offset 0x{guestOffset:x} is not cluster-aligned", guestOffset, host);
        }

        if (host >= _file.Length)
        {
            throw new ImageCorruptException($"{Name}: data cluster at 0x{host:x} for guest offset 0x{guestOffset:x} lies beyond the end of the file", guestOffset, host);
        }

        if (_metadataClusters.Contains(host >> _geo.ClusterBits))
        {
            throw new ImageCorruptException($"{Name}: data cluster at 0x{host:x} for guest offset 0x{guestOffset:x} overlaps metadata", guestOffset, host);
        }
    }

    /// <summary>
    /// A compressed descriptor must point inside the file, past the header, and touch no metadata cluster: a write
    /// or discard over it drops a reference to every host cluster it touches, which must never free metadata.
    /// </summary>
    private void ValidateCompressedEntry(L2Entry entry, long guestOffset)
    {
        long cluster = _geo.ClusterStart(guestOffset);
        if (_externalData)
        {
            throw new ImageCorruptException($"{Name}: compressed cluster at guest offset 0x{cluster:x} in an image with an external data file", guestOffset);
        }

        if (_geo.ExtendedL2 && entry.Bitmap != 0)
        {
            throw new ImageCorruptException($"{Name}: compressed cluster at guest offset 0x{cluster:x} has a non-zero subcluster bitmap 0x{entry.Bitmap:x16}", guestOffset);
        }

        var d = CompressedDescriptor.Decode(entry, _geo.ClusterBits);
        if (d.HostOffset < _geo.ClusterSize || d.HostOffset >= _file.Length)
        {
            throw new ImageCorruptException($"{Name}: compressed cluster for guest offset 0x{cluster:x} at host 0x{d.HostOffset:x} lies outside the file's data area", guestOffset, d.HostOffset);
        }

        var (first, last) = d.HostClusters(_geo.ClusterBits);
        for (long c = first; c <= last; c++)
        {
            if (_metadataClusters.Contains(c))
            {
                throw new ImageCorruptException($"{Name}: compressed cluster for guest offset 0x{cluster:x} at host 0x{d.HostOffset:x} (+{d.CompressedLength} bytes) overlaps metadata", guestOffset, d.HostOffset);
            }
        }
    }
}
