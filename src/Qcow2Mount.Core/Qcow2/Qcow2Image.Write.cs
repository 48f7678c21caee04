using System.Buffers;
using System.Buffers.Binary;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// The write path. In-place writes of COPIED, fully allocated (sub)clusters share the guest range and touch no
/// metadata; everything else holds the range alone and goes cluster by cluster: plan the COW region (QEMU's rules,
/// qemu-behaviour.md §3.1), allocate, write guest data merged with the COW bytes in one request, update L2.
/// </summary>
public sealed partial class Qcow2Image
{
    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        EnsureWritable();
        CheckRange(offset, data.Length);
        if (data.IsEmpty)
        {
            return;
        }

        long rangeStart = _geo.ClusterStart(offset);
        long rangeEnd = _geo.ClusterStart(offset + data.Length - 1) + _geo.ClusterSize;
        int done = 0;
        try
        {
            using (_ranges.Acquire(rangeStart, rangeEnd, exclusive: false))
            {
                while (done < data.Length)
                {
                    long host;
                    int n;
                    lock (_metaLock)
                    {
                        (host, n) = InPlaceExtent(offset + done, data.Length - done);
                    }

                    if (n == 0)
                    {
                        break;
                    }

                    _data.Write(host, data.Slice(done, n));
                    Statistics.AddDataWritten(n);
                    Volatile.Write(ref _dataWritten, 1);
                    done += n;
                }
            }

            if (done == data.Length)
            {
                return;
            }

            using (_ranges.Acquire(_geo.ClusterStart(offset + done), rangeEnd, exclusive: true))
            {
                WriteExclusive(offset + done, data[done..]);
            }
        }
        catch (ImageCorruptException)
        {
            SignalCorruption();
            throw;
        }

        MaybeFlushDeferredFrees();
    }

    /// <summary>Writes cluster by cluster; the caller holds the range exclusively.</summary>
    private void WriteExclusive(long offset, ReadOnlySpan<byte> data)
    {
        int done = 0;
        while (done < data.Length)
        {
            int n = Math.Min(data.Length - done, _geo.ClusterSize - _geo.OffsetInCluster(offset + done));
            WriteCluster(offset + done, data.Slice(done, n));
            done += n;
        }
    }

    /// <summary>
    /// How many bytes from <paramref name="offset"/> can be written in place (COPIED, not compressed, every touched
    /// subcluster already allocated) and where, host-contiguous. Caller holds the metadata lock.
    /// </summary>
    private (long Host, int Length) InPlaceExtent(long offset, int maxLength)
    {
        long host = -1;
        int length = 0;
        while (length < maxLength)
        {
            long pos = offset + length;
            var entry = GetL2Entry(pos);
            if (entry.IsCompressed || !entry.IsCopied || (entry.HostClusterOffset == 0 && !_externalData))
            {
                break;
            }

            int inCluster = _geo.OffsetInCluster(pos);
            int n = Math.Min(maxLength - length, _geo.ClusterSize - inCluster);
            int scFirst = inCluster / _geo.SubclusterSize;
            int scLast = (inCluster + n - 1) / _geo.SubclusterSize;
            for (int sc = scFirst; sc <= scLast; sc++)
            {
                if (Decode(entry, sc, pos) != SubclusterState.Normal)
                {
                    return (host, length);
                }
            }

            long h = HostClusterOf(entry, pos) + inCluster;
            if (length > 0 && h != host + length)
            {
                break;
            }

            if (length == 0)
            {
                host = h;
            }

            length += n;
        }

        return (host, length);
    }

    /// <summary>The byte range of a cluster that a write rewrites: guest data plus the COW head and tail.</summary>
    private readonly record struct WritePlan(bool InPlace, int CowStart, int CowEnd);

    private WritePlan PlanWrite(L2Entry old, long guestOffset, int inCluster, int end)
    {
        int sc = _geo.SubclusterSize;
        int scFirst = inCluster / sc;
        int scLast = (end - 1) / sc;
        bool hasHost = !old.IsCompressed && (old.HostClusterOffset != 0 || (_externalData && old.IsCopied));
        bool inPlace = hasHost && old.IsCopied;
        if (!_geo.ExtendedL2)
        {
            if (inPlace && !old.HasZeroFlag)
            {
                return new WritePlan(true, inCluster, end);
            }

            // New cluster, or a preallocated zero cluster: the rest of the cluster is copied (zeros for ZERO_ALLOC).
            return new WritePlan(inPlace, 0, _geo.ClusterSize);
        }

        if (old.IsCompressed)
        {
            return new WritePlan(false, 0, _geo.ClusterSize);
        }

        if (inPlace)
        {
            int start = Decode(old, scFirst, guestOffset) == SubclusterState.Normal ? inCluster : scFirst * sc;
            int stop = Decode(old, scLast, guestOffset) == SubclusterState.Normal ? end : (scLast + 1) * sc;
            return new WritePlan(true, start, stop);
        }

        if (hasHost)
        {
            // COW of a shared cluster: keep every allocated subcluster, so copy from the first to the last of them.
            uint alloc = old.AllocationBits;
            int firstAlloc = alloc == 0 ? scFirst : System.Numerics.BitOperations.TrailingZeroCount(alloc);
            int lastAlloc = alloc == 0 ? scLast : 31 - System.Numerics.BitOperations.LeadingZeroCount(alloc);
            return new WritePlan(false, Math.Min(scFirst, firstAlloc) * sc, (Math.Max(scLast, lastAlloc) + 1) * sc);
        }

        return new WritePlan(false, scFirst * sc, (scLast + 1) * sc);
    }

    /// <summary>Writes inside one cluster (the caller holds its guest range exclusively).</summary>
    private void WriteCluster(long guestOffset, ReadOnlySpan<byte> data)
    {
        long clusterStart = _geo.ClusterStart(guestOffset);
        int inCluster = _geo.OffsetInCluster(guestOffset);
        int end = inCluster + data.Length;
        L2Entry old;
        long l2Table;
        long host;
        WritePlan plan;
        lock (_metaLock)
        {
            l2Table = EnsureL2Table(guestOffset);
            old = GetL2Entry(guestOffset);
            plan = PlanWrite(old, guestOffset, inCluster, end);
            // A new cluster whose write (data plus COW) reaches its end grows the file by itself.
            host = plan.InPlace ? HostClusterOf(old, guestOffset) : AllocateDataCluster(clusterStart, writtenToEnd: plan.CowEnd == _geo.ClusterSize);
        }

        if (plan.CowStart == inCluster && plan.CowEnd == end)
        {
            _data.Write(host + inCluster, data);
        }
        else if (plan.CowEnd - plan.CowStart - data.Length >= ZeroCowThreshold
            && CowReadsAsZeros(old, clusterStart, plan, inCluster, end)
            && _data.TryZeroRange(host + plan.CowStart, plan.CowEnd - plan.CowStart))
        {
            // Nothing to copy but zeros (a new cluster with no backing data under it): let the file system zero the
            // (sub)clusters, then write only the guest data, as QEMU does, instead of sending a cluster of zeros.
            _data.Write(host + inCluster, data);
        }
        else
        {
            int length = plan.CowEnd - plan.CowStart;
            var buffer = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                var span = buffer.AsSpan(0, length);
                ReadForCow(old, clusterStart, plan.CowStart, inCluster, span[..(inCluster - plan.CowStart)]);
                data.CopyTo(span[(inCluster - plan.CowStart)..]);
                ReadForCow(old, clusterStart, end, plan.CowEnd, span[(end - plan.CowStart)..]);
                _data.Write(host + plan.CowStart, span);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            Statistics.AddCowWritten(plan.CowEnd - plan.CowStart - data.Length);
        }

        Statistics.AddDataWritten(data.Length);
        Volatile.Write(ref _dataWritten, 1);

        lock (_metaLock)
        {
            var entry = NewEntryAfterWrite(old, host, plan);
            if (entry != old)
            {
                WriteEntry(l2Table, guestOffset, entry);
            }
            if (!plan.InPlace)
            {
                ReleaseOldCluster(old, guestOffset);
            }
        }
    }

    /// <summary>Fewest COW bytes worth a zero-range request instead of writing zeros along with the data.</summary>
    private const int ZeroCowThreshold = 16 * 1024;

    /// <summary>True when the COW head and tail of <paramref name="plan"/> read as zeros under the old entry.</summary>
    private bool CowReadsAsZeros(L2Entry old, long clusterStart, WritePlan plan, int inCluster, int end)
    {
        if (old.IsCompressed)
        {
            return false;
        }

        int sc = _geo.SubclusterSize;
        for (int pos = plan.CowStart; pos < plan.CowEnd; pos += sc)
        {
            int scEnd = pos + sc;
            if (pos >= inCluster && scEnd <= end)
            {
                continue; // wholly overwritten by the guest data
            }

            var kind = KindOf(Decode(old, pos / sc, clusterStart + pos));
            if (kind == RunKind.Data || (kind == RunKind.Backing && _backing is not null))
            {
                return false;
            }
        }

        return true;
    }

    private L2Entry NewEntryAfterWrite(L2Entry old, long host, WritePlan plan)
    {
        // With an external data file host is the guest cluster offset (0 for the first cluster: COPIED marks it).
        if (!_geo.ExtendedL2)
        {
            return L2Entry.Standard(host, copied: true);
        }

        uint mask = SubclusterMask(plan.CowStart / _geo.SubclusterSize, (plan.CowEnd - 1) / _geo.SubclusterSize);
        uint alloc = old.IsCompressed ? 0 : old.AllocationBits;
        uint zero = old.IsCompressed ? 0 : old.ZeroBits;
        return L2Entry.Standard(host, copied: true, L2Entry.MakeBitmap(alloc | mask, zero & ~mask));
    }

    internal static uint SubclusterMask(int first, int last) =>
        last >= 31 ? uint.MaxValue << first : ((1u << (last + 1)) - 1) & (uint.MaxValue << first);

    /// <summary>Reads what the guest saw at [from, to) of the cluster before the write, per the old entry.</summary>
    private void ReadForCow(L2Entry old, long clusterStart, int from, int to, Span<byte> dest)
    {
        if (to <= from)
        {
            return;
        }

        if (old.IsCompressed)
        {
            var cluster = ArrayPool<byte>.Shared.Rent(_geo.ClusterSize);
            try
            {
                CompressedClusters.Decompress(_file, old, _geo, _header.CompressionType, cluster.AsSpan(0, _geo.ClusterSize), clusterStart);
                cluster.AsSpan(from, to - from).CopyTo(dest);
                Statistics.AddCowRead(to - from);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(cluster);
            }

            return;
        }

        int pos = from;
        while (pos < to)
        {
            int sc = pos / _geo.SubclusterSize;
            var kind = KindOf(Decode(old, sc, clusterStart + pos));
            int runEnd = Math.Min(to, (sc + 1) * _geo.SubclusterSize);
            while (runEnd < to && KindOf(Decode(old, runEnd / _geo.SubclusterSize, clusterStart + runEnd)) == kind)
            {
                runEnd = Math.Min(to, runEnd + _geo.SubclusterSize);
            }

            var part = dest.Slice(pos - from, runEnd - pos);
            switch (kind)
            {
                case RunKind.Data:
                    _data.Read(HostClusterOf(old, clusterStart) + pos, part);
                    Statistics.AddCowRead(part.Length);
                    break;
                case RunKind.Backing:
                    int n = ReadBacking(clusterStart + pos, part);
                    Statistics.AddCowRead(n);
                    break;
                default:
                    part.Clear();
                    break;
            }

            pos = runEnd;
        }
    }

    /// <summary>A new host cluster for guest data (external data file: the guest offset itself). Metadata lock held.</summary>
    /// <param name="writtenToEnd">The caller's next write ends at the cluster's end, so it grows the file.</param>
    private long AllocateDataCluster(long guestClusterStart, bool writtenToEnd = false)
    {
        if (_externalData)
        {
            return guestClusterStart;
        }

        long host = _refcounts!.Allocate(1, writtenWhole: writtenToEnd, growLater: true);
        if (_metadataClusters.Contains(host >> _geo.ClusterBits))
        {
            throw new ImageCorruptException($"{Name}: refcounts mark cluster 0x{host:x} free although it holds metadata", guestClusterStart, host);
        }

        return host;
    }

    /// <summary>Drops this image's reference to the old cluster after its L2 entry changed (deferred decrement).</summary>
    private void ReleaseOldCluster(L2Entry old, long guestOffset)
    {
        if (_externalData)
        {
            return;
        }

        if (old.IsCompressed)
        {
            var d = CompressedDescriptor.Decode(old, _geo.ClusterBits);
            var (first, last) = d.HostClusters(_geo.ClusterBits);
            for (long c = first; c <= last; c++)
            {
                _refcounts!.ScheduleFree(c);
            }
        }
        else if (old.HostClusterOffset != 0)
        {
            _refcounts!.ScheduleFree(old.HostClusterOffset >> _geo.ClusterBits);
        }
    }

    /// <summary>
    /// The L2 table for <paramref name="guestOffset"/>, made writable: allocated when missing, copied when shared
    /// with a snapshot. Order: the new table and the refcounts are stable before the L1 entry points at the table.
    /// Metadata lock held.
    /// </summary>
    private long EnsureL2Table(long guestOffset)
    {
        long l1Index = _geo.L1Index(guestOffset);
        if (l1Index >= _l1.Length)
        {
            throw new ImageCorruptException($"{Name}: guest offset 0x{guestOffset:x} is beyond the L1 table", guestOffset);
        }

        long old = L2TableFor(guestOffset);
        var l1 = new L1Entry(_l1[l1Index]);
        if (old != 0 && l1.IsCopied)
        {
            return old;
        }

        BeforeMetadataChange();
        long table = _refcounts!.Allocate(1);
        if (_metadataClusters.Contains(table >> _geo.ClusterBits))
        {
            throw new ImageCorruptException($"{Name}: refcounts mark cluster 0x{table:x} free although it holds metadata", guestOffset, table);
        }

        _metadataClusters.Add(table >> _geo.ClusterBits);
        var content = new byte[_geo.ClusterSize];
        if (old != 0)
        {
            for (int s = 0; s < _geo.ClusterSize; s += _l2SliceSize)
            {
                _l2Cache.Get(old + s).CopyTo(content, s);
            }
        }

        _file.Write(table, content);
        MakeDataAndRefcountsStable();
        _file.Flush();
        for (int s = 0; s < _geo.ClusterSize; s += _l2SliceSize)
        {
            _l2Cache.PutClean(table + s, content.AsSpan(s, _l2SliceSize).ToArray());
        }

        var entry = L1Entry.For(table, copied: true);
        _l1[l1Index] = entry.Raw;
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, entry.Raw);
        _file.Write(_header.L1TableOffset + (l1Index * 8), bytes);
        if (old != 0)
        {
            _refcounts.ScheduleFree(old >> _geo.ClusterBits);
        }

        return table;
    }

    private void MaybeFlushDeferredFrees()
    {
        if (_refcounts!.DeferredFreeCount > MaxDeferredFrees)
        {
            Flush();
        }
    }
}
