using System.Buffers;
using Qcow2Mount.Core.Qcow2.Allocation;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// Writes that change the mapping, cluster by cluster (qemu-behaviour.md §3.1): plan the copy-on-write region by
/// QEMU's rules, allocate the cluster (unless it is written in place), write the guest data merged with the COW
/// bytes (what the guest saw there before) in one request, then update the L2 entry and drop the reference to the
/// old cluster. Order: the data and COW bytes are written before the L2 entry changes, and the L2 cache writes the
/// entry back only after they are stable (<see cref="WriteOrder"/>); the old cluster's refcount drops later
/// (deferred free). The caller holds the cluster's guest range exclusively; the metadata lock is taken only to plan
/// and to update, never during the data I/O.
/// </summary>
internal sealed class CopyOnWrite
{
    /// <summary>Fewest COW bytes worth a zero-range request instead of writing zeros along with the data.</summary>
    private const int ZeroCowThreshold = 16 * 1024;

    /// <summary>
    /// Largest write whose COW head and tail are read in one request (the whole region, the guest data's part then
    /// overwritten) instead of two: a system call less per small write into the middle of a new (sub)cluster, for at
    /// most this many bytes read in vain. QEMU merges the two reads the same way for small writes.
    /// </summary>
    private const int MergedCowReadLimit = 16 * 1024;

    private readonly object _metaLock;
    private readonly L2Tables _tables;
    private readonly ClusterMapper _mapper;
    private readonly ClusterAllocator _allocator;
    private readonly RunReader _reader;
    private readonly WriteOrder _order;
    private readonly IBlockDevice _data;
    private readonly ClusterGeometry _geo;
    private readonly bool _externalData;
    private readonly Qcow2Statistics _statistics;

    public CopyOnWrite(object metaLock, L2Tables tables, ClusterMapper mapper, ClusterAllocator allocator, RunReader reader, WriteOrder order, IBlockDevice data, ClusterGeometry geo, bool externalData, Qcow2Statistics statistics)
    {
        _metaLock = metaLock;
        _tables = tables;
        _mapper = mapper;
        _allocator = allocator;
        _reader = reader;
        _order = order;
        _data = data;
        _geo = geo;
        _externalData = externalData;
        _statistics = statistics;
    }

    /// <summary>The byte range of a cluster that a write rewrites: guest data plus the COW head and tail.</summary>
    private readonly record struct WritePlan(bool InPlace, int CowStart, int CowEnd);

    /// <summary>Writes cluster by cluster; the caller holds the range exclusively.</summary>
    public void Write(GuestOffset offset, ReadOnlySpan<byte> data)
    {
        int done = 0;
        while (done < data.Length)
        {
            var at = offset + done;
            int n = Math.Min(data.Length - done, _geo.ClusterSize - _geo.OffsetInCluster(at));
            WriteCluster(at, data.Slice(done, n));
            done += n;
        }
    }

    /// <summary>Writes inside one cluster (the caller holds its guest range exclusively).</summary>
    private void WriteCluster(GuestOffset guestOffset, ReadOnlySpan<byte> data)
    {
        var clusterStart = _geo.ClusterStart(guestOffset);
        int inCluster = _geo.OffsetInCluster(guestOffset);
        int end = inCluster + data.Length;
        L2Entry old;
        HostOffset l2Table;
        HostOffset host;
        WritePlan plan;
        lock (_metaLock)
        {
            l2Table = _tables.MakeWritable(guestOffset);
            old = _tables.Get(guestOffset);
            plan = Plan(old, guestOffset, inCluster, end);
            // A new cluster whose write (data plus COW) reaches its end grows the file by itself.
            host = plan.InPlace
                ? _mapper.HostClusterOf(old, clusterStart)
                : _allocator.AllocateData(clusterStart, writtenToEnd: plan.CowEnd == _geo.ClusterSize);
        }

        if (plan.CowStart == inCluster && plan.CowEnd == end)
        {
            _data.Write(host.Value + inCluster, data);
        }
        else if (plan.CowEnd - plan.CowStart - data.Length >= ZeroCowThreshold
            && CowReadsAsZeros(old, clusterStart, plan, inCluster, end)
            && _data.TryZeroRange(host.Value + plan.CowStart, plan.CowEnd - plan.CowStart))
        {
            // Nothing to copy but zeros (a new cluster with no backing data under it): let the file system zero the
            // (sub)clusters, then write only the guest data, as QEMU does, instead of sending a cluster of zeros.
            _data.Write(host.Value + inCluster, data);
        }
        else
        {
            int length = plan.CowEnd - plan.CowStart;
            var buffer = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                var span = buffer.AsSpan(0, length);
                if (inCluster > plan.CowStart && end < plan.CowEnd && data.Length <= MergedCowReadLimit)
                {
                    ReadForCow(old, clusterStart, plan.CowStart, plan.CowEnd, span, inCluster, end);
                }
                else
                {
                    ReadForCow(old, clusterStart, plan.CowStart, inCluster, span[..(inCluster - plan.CowStart)], inCluster, end);
                    ReadForCow(old, clusterStart, end, plan.CowEnd, span[(end - plan.CowStart)..], inCluster, end);
                }

                data.CopyTo(span[(inCluster - plan.CowStart)..]);
                _data.Write(host.Value + plan.CowStart, span);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            _statistics.AddCowWritten(plan.CowEnd - plan.CowStart - data.Length);
        }

        _statistics.AddDataWritten(data.Length);
        _order.NoteDataWritten();

        lock (_metaLock)
        {
            var entry = EntryAfterWrite(old, host, plan);
            if (entry != old)
            {
                _tables.Set(l2Table, guestOffset, entry);
            }

            if (!plan.InPlace)
            {
                _allocator.Release(old);
            }
        }
    }

    /// <summary>
    /// QEMU's COW region for a write of [<paramref name="inCluster"/>, <paramref name="end"/>) of a cluster: in place
    /// when the cluster is COPIED (only the partly written subclusters that do not hold data yet are completed); a new
    /// standard cluster is written whole; a new extended cluster gets the touched subclusters, and a copy of a shared
    /// one keeps every allocated subcluster, so it covers them too.
    /// </summary>
    private WritePlan Plan(L2Entry old, GuestOffset guestOffset, int inCluster, int end)
    {
        int scFirst = _geo.SubclusterOf(inCluster);
        int scLast = _geo.SubclusterOf(end - 1);
        bool hasHost = SubclusterDecoder.HasHostCluster(old, _externalData);
        bool inPlace = hasHost && old.IsCopied;
        if (!_geo.ExtendedL2)
        {
            if (inPlace && SubclusterDecoder.Decode(old, extendedL2: false, 0, _externalData) == SubclusterState.Normal)
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
            var clusterStart = _geo.ClusterStart(guestOffset);
            int start = _mapper.RunIn(old, clusterStart + _geo.SubclusterStart(scFirst), 1).State == SubclusterState.Normal ? inCluster : _geo.SubclusterStart(scFirst);
            int stop = _mapper.RunIn(old, clusterStart + _geo.SubclusterStart(scLast), 1).State == SubclusterState.Normal ? end : _geo.SubclusterStart(scLast + 1);
            return new WritePlan(true, start, stop);
        }

        if (SubclusterDecoder.TryGetAllocatedSpan(old, extendedL2: true, _externalData, out int firstAlloc, out int lastAlloc))
        {
            // COW of a shared cluster: keep every allocated subcluster, so copy from the first to the last of them.
            return new WritePlan(false, _geo.SubclusterStart(Math.Min(scFirst, firstAlloc)), _geo.SubclusterStart(Math.Max(scLast, lastAlloc) + 1));
        }

        return new WritePlan(false, _geo.SubclusterStart(scFirst), _geo.SubclusterStart(scLast + 1));
    }

    /// <summary>True when the COW head and tail of <paramref name="plan"/> read as zeros under the old entry.</summary>
    private bool CowReadsAsZeros(L2Entry old, GuestOffset clusterStart, WritePlan plan, int inCluster, int end)
    {
        if (old.IsCompressed)
        {
            return false;
        }

        // Units of a subcluster from the start of the COW region; one wholly overwritten by the guest data needs no COW bytes.
        int sc = _geo.SubclusterSize;
        for (int pos = plan.CowStart; pos < plan.CowEnd; pos += sc)
        {
            if (pos >= inCluster && pos + sc <= end)
            {
                continue;
            }

            var state = _mapper.RunIn(old, clusterStart + pos, 1).State;
            if (state == SubclusterState.Normal || (state.ReadsFromBacking() && _reader.HasBacking))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The entry after the write: the new (or same) host cluster, COPIED, and the written subclusters allocated.</summary>
    private L2Entry EntryAfterWrite(L2Entry old, HostOffset host, WritePlan plan)
    {
        // With an external data file host is the guest cluster offset (0 for the first cluster: COPIED marks it).
        if (!_geo.ExtendedL2)
        {
            return L2Entry.Standard(host, copied: true);
        }

        return old.AfterWrite(host, L2Entry.SubclusterMask(_geo.SubclusterOf(plan.CowStart), _geo.SubclusterOf(plan.CowEnd - 1)));
    }

    /// <summary>
    /// Reads what the guest saw at [from, to) of the cluster before the write, per the old entry. Bytes read from
    /// storage count as COW bytes read unless they lie in [<paramref name="dataStart"/>, <paramref name="dataEnd"/>),
    /// the part the guest data replaces (read only when the head and tail are read in one request).
    /// </summary>
    private void ReadForCow(L2Entry old, GuestOffset clusterStart, int from, int to, Span<byte> dest, int dataStart, int dataEnd)
    {
        for (int pos = from; pos < to;)
        {
            var run = _mapper.RunIn(old, clusterStart + pos, to - pos);
            var part = dest.Slice(pos - from, (int)run.Length);
            int stored = _reader.Read(run, clusterStart + pos, part); // the first `stored` bytes came from storage
            int inData = Math.Max(0, Math.Min(pos + stored, dataEnd) - Math.Max(pos, dataStart));
            _statistics.AddCowRead(stored - inData);
            pos += part.Length;
        }
    }
}
