using Qcow2Mount.Core.Qcow2.Allocation;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// Zero writes and discards, matching QEMU's results for the same request (qemu-behaviour.md §4, §5): whole
/// clusters get the zero flag / all zero bits (or are unmapped), aligned subclusters get zero bits, unaligned
/// heads and tails are zeroed in metadata only when the rest of their unit already reads as zero, else written
/// (through <see cref="CopyOnWrite"/>). v2 images have no zero flag: zeroing there is a discard or zero bytes.
/// With a raw external data file (data_file_raw) the data file gets the zeros too, before the L2 entry says so.
/// A host cluster whose entry no longer names it is released (deferred free).
/// </summary>
internal sealed class ZeroWriter
{
    private static readonly byte[] ZeroBuffer = new byte[64 * 1024];

    private readonly object _metaLock;
    private readonly GuestRangeLock _ranges;
    private readonly HeaderStore _header;
    private readonly L2Tables _tables;
    private readonly ClusterMapper _mapper;
    private readonly ClusterAllocator _allocator;
    private readonly CopyOnWrite _cow;
    private readonly RunReader _reader;
    private readonly WriteOrder _order;
    private readonly IBlockDevice _data;
    private readonly ClusterGeometry _geo;
    private readonly bool _externalData;

    public ZeroWriter(object metaLock, GuestRangeLock ranges, HeaderStore header, L2Tables tables, ClusterMapper mapper, ClusterAllocator allocator, CopyOnWrite cow, RunReader reader, WriteOrder order, IBlockDevice data, ClusterGeometry geo, bool externalData)
    {
        _metaLock = metaLock;
        _ranges = ranges;
        _header = header;
        _tables = tables;
        _mapper = mapper;
        _allocator = allocator;
        _cow = cow;
        _reader = reader;
        _order = order;
        _data = data;
        _geo = geo;
        _externalData = externalData;
    }

    private long Length => _header.Current.Size;

    /// <summary>Makes [offset, offset + length) read as zeros, holding the range alone for it.</summary>
    public void WriteZeroes(GuestOffset offset, long length, bool mayUnmap)
    {
        var end = offset + length;
        using (_ranges.Acquire(_geo.ClusterStart(offset).Value, _geo.NextClusterStart(end - 1).Value, exclusive: true))
        {
            ZeroRange(offset, end, mayUnmap);
        }
    }

    /// <summary>
    /// Guest TRIM (the range reads as zeros afterwards). Whole clusters are discarded as qemu-io <c>discard</c> does;
    /// the unaligned head and tail, which QEMU would silently ignore, are zero-written.
    /// </summary>
    public void Discard(GuestOffset offset, long length)
    {
        var end = offset + length;
        var first = GuestOffset.Min(end, RoundUp(offset, _geo.ClusterSize));
        // Whole clusters only; the partial last cluster of the disk counts as whole.
        var last = end.Value == Length ? end : _geo.ClusterStart(end);
        if (last < first)
        {
            last = first;
        }

        bool hasBacking = _header.Current.BackingFile is not null;
        if (_header.Current.Version == 2 && hasBacking)
        {
            // QEMU refuses (a v2 image cannot hide backing data without writing): zero-write the whole range.
            WriteZeroes(offset, length, mayUnmap: false);
            return;
        }

        if (first > offset)
        {
            WriteZeroes(offset, first - offset, mayUnmap: false);
        }

        if (end > last)
        {
            WriteZeroes(last, end - last, mayUnmap: false);
        }

        if (first >= last)
        {
            return;
        }

        using (_ranges.Acquire(first.Value, RoundUp(last, _geo.ClusterSize).Value, exclusive: true))
        {
            for (var c = first; c < last; c += _geo.ClusterSize)
            {
                lock (_metaLock)
                {
                    DiscardCluster(c, hasBacking);
                }
            }
        }
    }

    /// <summary>Zeroes [offset, end); the caller holds the range exclusively (a shrinking resize holds every range).</summary>
    public void ZeroRange(GuestOffset offset, GuestOffset end, bool mayUnmap)
    {
        if (_header.Current.Version == 2)
        {
            ZeroRangeV2(offset, end);
            return;
        }

        int unit = _geo.SubclusterSize;
        var pos = offset;
        while (pos < end)
        {
            var clusterStart = _geo.ClusterStart(pos);
            var nextCluster = _geo.NextClusterStart(pos);
            long clusterEnd = Math.Min(nextCluster.Value, Length);
            var stop = GuestOffset.Min(end, nextCluster);
            if ((pos - clusterStart) % unit != 0)
            {
                var unitEnd = GuestOffset.Min(RoundUp(pos, unit), end);
                ZeroPartialUnit(pos, unitEnd);
                pos = unitEnd;
                continue;
            }

            if (pos == clusterStart && stop.Value >= clusterEnd)
            {
                lock (_metaLock)
                {
                    ZeroWholeCluster(clusterStart, mayUnmap);
                }

                pos = stop;
                continue;
            }

            var alignedEnd = stop.Value == Length ? RoundUp(stop, unit) : stop - ((stop - clusterStart) % unit);
            if (alignedEnd > pos)
            {
                ZeroSubclusters(clusterStart, _geo.SubclusterOf((int)(pos - clusterStart)), _geo.SubclusterOf((int)(alignedEnd - clusterStart - 1)));
                pos = GuestOffset.Min(alignedEnd, stop);
                continue;
            }

            ZeroPartialUnit(pos, stop);
            pos = stop;
        }
    }

    private void DiscardCluster(GuestOffset clusterStart, bool hasBacking)
    {
        var l2Table = _tables.MakeWritable(clusterStart);
        var old = _tables.Get(clusterStart);
        bool allocated = old.IsCompressed || SubclusterDecoder.HasHostCluster(old, _externalData);
        if (!hasBacking && !allocated)
        {
            return;
        }

        if (allocated && _externalData && _header.Current.IsDataFileRaw)
        {
            // QEMU passes the discard through to the data file: it must stay a raw image of the disk.
            DiscardRawData(clusterStart);
        }

        var entry = _geo.ExtendedL2 ? L2Entry.ZeroPlainExtended
            : _header.Current.Version >= 3 ? L2Entry.ZeroPlainCluster
            : default;
        _tables.Set(l2Table, clusterStart, entry);
        _allocator.Release(old);
    }

    /// <summary>v2 images have no zero flag: without a backing file zeroing is a discard, else zeros are written.</summary>
    private void ZeroRangeV2(GuestOffset offset, GuestOffset end)
    {
        var pos = offset;
        while (pos < end)
        {
            var clusterStart = _geo.ClusterStart(pos);
            var stop = GuestOffset.Min(end, _geo.NextClusterStart(pos));
            bool whole = pos == clusterStart && (stop == _geo.NextClusterStart(pos) || stop.Value == Length);
            if (whole && _header.Current.BackingFile is null)
            {
                lock (_metaLock)
                {
                    DiscardCluster(clusterStart, hasBacking: false);
                }
            }
            else
            {
                WriteZeroBytes(pos, stop - pos);
            }

            pos = stop;
        }
    }

    /// <summary>An unaligned piece inside one unit: metadata-only if the unit already reads as zero elsewhere.</summary>
    private void ZeroPartialUnit(GuestOffset from, GuestOffset to)
    {
        int unit = _geo.SubclusterSize;
        var clusterStart = _geo.ClusterStart(from);
        var unitStart = clusterStart + _geo.SubclusterStart(_geo.SubclusterIndex(from));
        var unitEnd = new GuestOffset(Math.Min(unitStart.Value + unit, Length));
        SubclusterState state;
        lock (_metaLock)
        {
            state = _mapper.Map(from, 1).State;
        }

        if (state.ReadsAsZero())
        {
            return;
        }

        if (state.IsUnallocated() && _reader.BackingReadsZero(unitStart, from) && _reader.BackingReadsZero(to, unitEnd))
        {
            if (_geo.ExtendedL2)
            {
                int sc = _geo.SubclusterIndex(unitStart);
                ZeroSubclusters(clusterStart, sc, sc);
            }
            else
            {
                lock (_metaLock)
                {
                    ZeroWholeCluster(clusterStart, mayUnmap: false);
                }
            }

            return;
        }

        WriteZeroBytes(from, to - from);
    }

    private void WriteZeroBytes(GuestOffset offset, long length)
    {
        for (long done = 0; done < length;)
        {
            int inCluster = _geo.OffsetInCluster(offset + done);
            int n = (int)Math.Min(length - done, ZeroBuffer.Length - (inCluster % ZeroBuffer.Length));
            n = Math.Min(n, _geo.ClusterSize - inCluster);
            _cow.Write(offset + done, ZeroBuffer.AsSpan(0, n));
            done += n;
        }
    }

    /// <summary>Whole cluster: all zero bits / zero flag; the host cluster is kept unless unmapping is allowed (or it was compressed).</summary>
    private void ZeroWholeCluster(GuestOffset clusterStart, bool mayUnmap)
    {
        var l2Table = _tables.MakeWritable(clusterStart);
        var old = _tables.Get(clusterStart);
        bool hasHost = SubclusterDecoder.HasHostCluster(old, _externalData);
        // With an external data file too (QEMU: entry 0x1 / all zero bits; the cluster has no refcount to drop).
        bool unmap = old.IsCompressed || (mayUnmap && hasHost);
        if (_externalData && _header.Current.IsDataFileRaw && hasHost)
        {
            WriteRawZeros(clusterStart, 0, _geo.ClusterSize);
        }

        var entry = unmap
            ? (_geo.ExtendedL2 ? L2Entry.ZeroPlainExtended : L2Entry.ZeroPlainCluster)
            : old.WithAllZero(_geo.ExtendedL2);
        _tables.Set(l2Table, clusterStart, entry);
        if (unmap)
        {
            _allocator.Release(old);
        }
    }

    /// <summary>Extended L2, subclusters [first, last] of one cluster: zero bits set, allocation bits cleared, host kept.</summary>
    private void ZeroSubclusters(GuestOffset clusterStart, int first, int last)
    {
        bool compressed;
        lock (_metaLock)
        {
            var l2Table = _tables.MakeWritable(clusterStart);
            var old = _tables.Get(clusterStart);
            compressed = old.IsCompressed;
            if (!compressed)
            {
                if (_externalData && _header.Current.IsDataFileRaw && SubclusterDecoder.HasHostCluster(old, externalData: true))
                {
                    WriteRawZeros(clusterStart, _geo.SubclusterStart(first), _geo.SubclusterStart(last + 1));
                }

                _tables.Set(l2Table, clusterStart, old.WithSubclustersZero(L2Entry.SubclusterMask(first, last)));
            }
        }

        if (compressed)
        {
            // QEMU: ENOTSUP on a compressed cluster, so the block layer writes real zeros (decompress + rewrite).
            var from = clusterStart + _geo.SubclusterStart(first);
            long to = Math.Min(clusterStart.Value + _geo.SubclusterStart(last + 1), Length);
            WriteZeroBytes(from, to - from.Value);
        }
    }

    /// <summary>data_file_raw: the data file must stay a valid raw image, so zeros go there too.</summary>
    private void WriteRawZeros(GuestOffset clusterStart, int from, int to)
    {
        for (int pos = from; pos < to;)
        {
            int n = Math.Min(to - pos, ZeroBuffer.Length);
            _data.Write(clusterStart.Value + pos, ZeroBuffer.AsSpan(0, n));
            pos += n;
        }

        _order.NoteDataWritten();
    }

    /// <summary>
    /// data_file_raw discard: the cluster's bytes in the data file are released (hole punched) and, where the file
    /// system kept them, overwritten with zeros, before the L2 entry says the cluster reads as zeros.
    /// </summary>
    private void DiscardRawData(GuestOffset clusterStart)
    {
        _data.PunchHole(clusterStart.Value, _geo.ClusterSize);
        var check = new byte[_geo.ClusterSize];
        _data.Read(clusterStart.Value, check);
        int first = check.AsSpan().IndexOfAnyExcept((byte)0);
        if (first >= 0)
        {
            int last = check.AsSpan().LastIndexOfAnyExcept((byte)0);
            WriteRawZeros(clusterStart, first, last + 1);
        }
        else
        {
            _order.NoteDataWritten();
        }
    }

    private static GuestOffset RoundUp(GuestOffset value, long unit) => new((value.Value + unit - 1) / unit * unit);
}
