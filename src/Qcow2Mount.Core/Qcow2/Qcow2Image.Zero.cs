using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// Zero writes and discards, matching QEMU's results for the same request (qemu-behaviour.md §4, §5): whole
/// clusters get the zero flag / all zero bits (or are unmapped), aligned subclusters get zero bits, unaligned
/// heads and tails are zeroed in metadata only when the rest of their unit already reads as zero, else written.
/// </summary>
public sealed partial class Qcow2Image
{
    private static readonly byte[] ZeroBuffer = new byte[64 * 1024];

    public void WriteZeroes(long offset, long length, bool mayUnmap)
    {
        EnsureWritable();
        CheckRange(offset, length);
        if (length == 0)
        {
            return;
        }

        long end = offset + length;
        using (_ranges.Acquire(_geo.ClusterStart(offset), _geo.ClusterStart(end - 1) + _geo.ClusterSize, exclusive: true))
        {
            try
            {
                ZeroRange(offset, end, mayUnmap);
            }
            catch (ImageCorruptException)
            {
                SignalCorruption();
                throw;
            }
        }

        MaybeFlushDeferredFrees();
    }

    /// <summary>
    /// Guest TRIM (IVirtualDisk contract: the range reads as zeros afterwards). Whole clusters are discarded as
    /// qemu-io <c>discard</c> does; the unaligned head and tail, which QEMU would silently ignore, are zero-written.
    /// </summary>
    public void Discard(long offset, long length)
    {
        EnsureWritable();
        CheckRange(offset, length);
        long end = offset + length;
        long first = Math.Min(end, RoundUp(offset, _geo.ClusterSize));
        // Whole clusters only; the partial last cluster of the disk counts as whole.
        long last = Math.Max(first, end == Length ? end : _geo.ClusterStart(end));
        bool hasBacking = _header.BackingFile is not null;
        if (_header.Version == 2 && hasBacking)
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

        using (_ranges.Acquire(first, RoundUp(last, _geo.ClusterSize), exclusive: true))
        {
            try
            {
                for (long c = first; c < last; c += _geo.ClusterSize)
                {
                    lock (_metaLock)
                    {
                        DiscardCluster(c, hasBacking);
                    }
                }
            }
            catch (ImageCorruptException)
            {
                SignalCorruption();
                throw;
            }
        }

        MaybeFlushDeferredFrees();
    }

    private void DiscardCluster(long clusterStart, bool hasBacking)
    {
        long l2Table = EnsureL2Table(clusterStart);
        var old = GetL2Entry(clusterStart);
        bool allocated = old.IsCompressed || old.HostClusterOffset != 0 || (_externalData && old.IsCopied);
        if (!hasBacking && !allocated)
        {
            return;
        }

        if (allocated && _externalData && _header.IsDataFileRaw)
        {
            // QEMU passes the discard through to the data file: it must stay a raw image of the disk.
            DiscardRawData(clusterStart);
        }

        L2Entry entry = _geo.ExtendedL2 ? new L2Entry(0, L2Entry.AllZeroBitmap)
            : _header.Version >= 3 ? new L2Entry(L2Entry.ZeroFlag, 0)
            : default;
        WriteEntry(l2Table, clusterStart, entry);
        ReleaseOldCluster(old, clusterStart);
    }

    /// <summary>Zeroes [offset, end); the caller holds the range exclusively.</summary>
    private void ZeroRange(long offset, long end, bool mayUnmap)
    {
        if (_header.Version == 2)
        {
            ZeroRangeV2(offset, end);
            return;
        }

        int unit = _geo.SubclusterSize;
        long pos = offset;
        while (pos < end)
        {
            long clusterStart = _geo.ClusterStart(pos);
            long clusterEnd = Math.Min(clusterStart + _geo.ClusterSize, Length);
            long stop = Math.Min(end, clusterStart + _geo.ClusterSize);
            bool unitAlignedStart = (pos - clusterStart) % unit == 0;
            if (!unitAlignedStart)
            {
                long unitEnd = Math.Min(RoundUp(pos, unit), end);
                ZeroPartialUnit(pos, unitEnd);
                pos = unitEnd;
                continue;
            }

            if (pos == clusterStart && stop >= clusterEnd)
            {
                lock (_metaLock)
                {
                    ZeroWholeCluster(clusterStart, mayUnmap);
                }

                pos = stop;
                continue;
            }

            long alignedEnd = stop == Length ? RoundUp(stop, unit) : stop - ((stop - clusterStart) % unit);
            if (alignedEnd > pos)
            {
                ZeroSubclusters(clusterStart, (int)((pos - clusterStart) / unit), (int)((alignedEnd - clusterStart - 1) / unit));
                pos = Math.Min(alignedEnd, stop);
                continue;
            }

            ZeroPartialUnit(pos, stop);
            pos = stop;
        }
    }

    /// <summary>v2 images have no zero flag: without a backing file zeroing is a discard, else zeros are written.</summary>
    private void ZeroRangeV2(long offset, long end)
    {
        long pos = offset;
        while (pos < end)
        {
            long clusterStart = _geo.ClusterStart(pos);
            long stop = Math.Min(end, clusterStart + _geo.ClusterSize);
            bool whole = pos == clusterStart && (stop == clusterStart + _geo.ClusterSize || stop == Length);
            if (whole && _header.BackingFile is null)
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
    private void ZeroPartialUnit(long from, long to)
    {
        int unit = _geo.SubclusterSize;
        long clusterStart = _geo.ClusterStart(from);
        long unitStart = clusterStart + ((from - clusterStart) / unit * unit);
        long unitEnd = Math.Min(unitStart + unit, Length);
        SubclusterState state;
        lock (_metaLock)
        {
            var entry = GetL2Entry(from);
            state = Decode(entry, (int)((from - clusterStart) / unit), from);
        }

        if (state.ReadsAsZero())
        {
            return;
        }

        if (state.IsUnallocated() && BackingReadsZero(unitStart, from) && BackingReadsZero(to, unitEnd))
        {
            if (_geo.ExtendedL2)
            {
                int sc = (int)((unitStart - clusterStart) / unit);
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

    private bool BackingReadsZero(long from, long to)
    {
        if (to <= from || _backing is null || from >= _backing.Length)
        {
            return true;
        }

        var buffer = new byte[to - from];
        ReadBacking(from, buffer);
        return !buffer.AsSpan().ContainsAnyExcept((byte)0);
    }

    private void WriteZeroBytes(long offset, long length)
    {
        for (long done = 0; done < length;)
        {
            int n = (int)Math.Min(length - done, ZeroBuffer.Length - _geo.OffsetInCluster(offset + done) % ZeroBuffer.Length);
            n = Math.Min(n, _geo.ClusterSize - _geo.OffsetInCluster(offset + done));
            WriteCluster(offset + done, ZeroBuffer.AsSpan(0, n));
            done += n;
        }
    }

    /// <summary>Whole cluster: all zero bits / zero flag; the host cluster is kept unless unmapping is allowed (or it was compressed).</summary>
    private void ZeroWholeCluster(long clusterStart, bool mayUnmap)
    {
        long l2Table = EnsureL2Table(clusterStart);
        var old = GetL2Entry(clusterStart);
        bool hasHost = !old.IsCompressed && (old.HostClusterOffset != 0 || (_externalData && old.IsCopied));
        // With an external data file too (QEMU: entry 0x1 / all zero bits; the cluster has no refcount to drop).
        bool unmap = old.IsCompressed || (mayUnmap && hasHost);
        if (_externalData && _header.IsDataFileRaw && hasHost)
        {
            WriteRawZeros(clusterStart, 0, _geo.ClusterSize);
        }

        L2Entry entry;
        if (_geo.ExtendedL2)
        {
            entry = unmap ? new L2Entry(0, L2Entry.AllZeroBitmap) : new L2Entry(old.Raw, L2Entry.AllZeroBitmap);
        }
        else
        {
            entry = unmap ? new L2Entry(L2Entry.ZeroFlag, 0) : new L2Entry(old.Raw | L2Entry.ZeroFlag, 0);
        }

        WriteEntry(l2Table, clusterStart, entry);
        if (unmap)
        {
            ReleaseOldCluster(old, clusterStart);
        }
    }

    /// <summary>Extended L2, subclusters [first, last] of one cluster: zero bits set, allocation bits cleared, host kept.</summary>
    private void ZeroSubclusters(long clusterStart, int first, int last)
    {
        bool compressed;
        lock (_metaLock)
        {
            long l2Table = EnsureL2Table(clusterStart);
            var old = GetL2Entry(clusterStart);
            compressed = old.IsCompressed;
            if (!compressed)
            {
                uint mask = SubclusterMask(first, last);
                if (_externalData && _header.IsDataFileRaw && (old.HostClusterOffset != 0 || old.IsCopied))
                {
                    WriteRawZeros(clusterStart, first * _geo.SubclusterSize, (last + 1) * _geo.SubclusterSize);
                }

                var entry = old.WithBitmap(old.AllocationBits & ~mask, old.ZeroBits | mask);
                WriteEntry(l2Table, clusterStart, entry);
            }
        }

        if (compressed)
        {
            // QEMU: ENOTSUP on a compressed cluster, so the block layer writes real zeros (decompress + rewrite).
            long from = clusterStart + (first * _geo.SubclusterSize);
            long to = Math.Min(clusterStart + ((last + 1) * _geo.SubclusterSize), Length);
            WriteZeroBytes(from, to - from);
        }
    }

    /// <summary>data_file_raw: the data file must stay a valid raw image, so zeros go there too.</summary>
    private void WriteRawZeros(long clusterStart, int from, int to)
    {
        for (int pos = from; pos < to;)
        {
            int n = Math.Min(to - pos, ZeroBuffer.Length);
            _data.Write(clusterStart + pos, ZeroBuffer.AsSpan(0, n));
            pos += n;
        }

        Volatile.Write(ref _dataWritten, 1);
    }

    /// <summary>
    /// data_file_raw discard: the cluster's bytes in the data file are released (hole punched) and, where the file
    /// system kept them, overwritten with zeros, before the L2 entry says the cluster reads as zeros.
    /// </summary>
    private void DiscardRawData(long clusterStart)
    {
        _data.PunchHole(clusterStart, _geo.ClusterSize);
        var check = new byte[_geo.ClusterSize];
        _data.Read(clusterStart, check);
        int first = check.AsSpan().IndexOfAnyExcept((byte)0);
        if (first >= 0)
        {
            int last = check.AsSpan().LastIndexOfAnyExcept((byte)0);
            WriteRawZeros(clusterStart, first, last + 1);
        }
        else
        {
            Volatile.Write(ref _dataWritten, 1);
        }
    }

    private static long RoundUp(long value, long unit) => (value + unit - 1) / unit * unit;
}
