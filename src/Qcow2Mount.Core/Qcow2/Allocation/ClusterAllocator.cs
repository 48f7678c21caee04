using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2.Allocation;

/// <summary>
/// Hands out host clusters and takes them back for an open image (spec §5, §14 rules 4 and 6), over the
/// <see cref="RefcountManager"/>: data clusters (with an external data file the guest offset itself), L2 and L1
/// tables, extra references (compressed clusters sharing a host cluster), and deferred frees of what an L1/L2 change
/// stopped naming. A cluster the refcounts call free although it holds metadata is corruption, never handed out.
/// When the refcount table had to move to describe a new cluster, the header that names the new table is written
/// (through the <see cref="HeaderStore"/>) before the allocation returns, so nothing can use the cluster first.
/// A freed cluster is forgotten as metadata, dropped from the caches and punched out of the file.
/// Metadata lock held.
/// </summary>
internal sealed class ClusterAllocator
{
    private readonly RefcountManager _refcounts;
    private readonly HeaderStore _header;
    private readonly MetadataClusters _metadata;
    private readonly MetadataCache _l2Cache;
    private readonly SyncTrackingBlockDevice _file;
    private readonly ClusterGeometry _geo;
    private readonly bool _externalData;
    private readonly string _name;

    /// <summary>Clusters freed while holes are held (<see cref="HoldHoles"/>), or null.</summary>
    private List<long>? _heldHoles;

    public ClusterAllocator(RefcountManager refcounts, HeaderStore header, MetadataClusters metadata, MetadataCache l2Cache, SyncTrackingBlockDevice file, ClusterGeometry geo, bool externalData, Qcow2Statistics statistics)
    {
        _refcounts = refcounts;
        _header = header;
        _metadata = metadata;
        _l2Cache = l2Cache;
        _file = file;
        _geo = geo;
        _externalData = externalData;
        _name = file.Name;
        refcounts.Allocated = (_, count) => statistics.AddClustersAllocated(count);
        refcounts.Freed = OnFreed;
        refcounts.BeforeChange = header.BeforeMetadataChange;
    }

    public int DeferredFreeCount => _refcounts.DeferredFreeCount;

    public ulong GetRefcount(HostCluster cluster) => _refcounts.GetRefcount(cluster);

    /// <summary>A new host cluster for guest data (external data file: the guest offset itself).</summary>
    /// <param name="writtenToEnd">The caller's next write ends at the cluster's end, so it grows the file.</param>
    public HostOffset AllocateData(GuestOffset guestClusterStart, bool writtenToEnd = false)
    {
        if (_externalData)
        {
            return new HostOffset(guestClusterStart.Value);
        }

        var host = Take(_refcounts.Allocate(1, writtenWhole: writtenToEnd, growLater: true));
        RefuseMetadata(host, guestClusterStart);
        return host;
    }

    /// <summary>A new cluster for an L2 table, recorded as metadata (the caller writes it before L1 names it).</summary>
    public HostOffset AllocateL2Table(GuestOffset forGuest)
    {
        var table = Take(_refcounts.Allocate(1));
        RefuseMetadata(table, forGuest);
        _metadata.Add(_geo.ClusterOf(table));
        return table;
    }

    /// <summary><paramref name="clusters"/> contiguous clusters for a table the header will name (a new L1 table).</summary>
    public HostOffset AllocateTable(int clusters) => Take(_refcounts.Allocate(clusters));

    /// <summary>One more reference to a host cluster that holds compressed data already.</summary>
    public void AddReference(HostCluster cluster)
    {
        if (_refcounts.AddReference(cluster) is { } moved)
        {
            CommitMovedTable(moved);
        }
    }

    /// <summary>
    /// Until <see cref="PunchHeldHoles"/>, freed clusters are remembered instead of having their host space released
    /// one by one (a punch per cluster is slow on a file system that discards online): for freeing many clusters at once.
    /// </summary>
    public void HoldHoles() => _heldHoles ??= [];

    /// <summary>Releases the host space of the clusters freed since <see cref="HoldHoles"/>, in runs, where still inside the file.</summary>
    public void PunchHeldHoles()
    {
        var held = _heldHoles;
        _heldHoles = null;
        if (held is null)
        {
            return;
        }

        held.Sort();
        long clusters = _file.Length / _geo.ClusterSize;
        for (int i = 0; i < held.Count;)
        {
            int j = i + 1;
            while (j < held.Count && held[j] == held[j - 1] + 1)
            {
                j++;
            }

            long first = held[i], end = Math.Min(held[j - 1] + 1, clusters);
            if (end > first)
            {
                _file.PunchHole(first * _geo.ClusterSize, (end - first) * _geo.ClusterSize);
            }

            i = j;
        }
    }

    /// <summary>
    /// Cuts the file after the last cluster with a non-zero refcount (freed clusters at the end go away): a shrink, an
    /// emptied image. The caller holds every guest range and has applied the frees.
    /// </summary>
    public void TruncateAfterLastUsedCluster()
    {
        var last = _geo.ClusterEnd(_file.Length).Previous;
        while (last.Index > 0 && GetRefcount(last) == 0)
        {
            last = last.Previous;
        }

        long length = _geo.StartOf(last.Next).Value;
        if (length < _file.Length)
        {
            _file.SetLength(length);
        }
    }

    /// <summary>Remembers that <paramref name="cluster"/> lost a reference; the refcount drops at the next flush.</summary>
    public void ScheduleFree(HostCluster cluster) => _refcounts.ScheduleFree(cluster);

    /// <summary>Schedules every cluster of a structure of <paramref name="clusters"/> clusters at <paramref name="start"/>.</summary>
    public void ScheduleFree(HostOffset start, long clusters)
    {
        var first = _geo.ClusterOf(start);
        for (long c = 0; c < clusters; c++)
        {
            _refcounts.ScheduleFree(first + c);
        }
    }

    /// <summary>
    /// Drops this image's reference to what <paramref name="old"/> mapped after its L2 entry changed (deferred
    /// decrement): every host cluster a compressed cluster touches, or the host cluster of a standard one. Clusters of
    /// an external data file carry no refcount.
    /// </summary>
    public void Release(L2Entry old)
    {
        if (_externalData)
        {
            return;
        }

        if (old.IsCompressed)
        {
            var (first, last) = CompressedDescriptor.Decode(old, _geo.ClusterBits).HostClusters(_geo);
            for (var c = first; c <= last; c = c.Next)
            {
                _refcounts.ScheduleFree(c);
            }
        }
        else if (SubclusterDecoder.HasHostCluster(old, externalData: false))
        {
            _refcounts.ScheduleFree(_geo.ClusterOf(old.HostClusterOffset));
        }
    }

    private HostOffset Take(AllocatedRun run)
    {
        if (run.MovedTable is { } moved)
        {
            CommitMovedTable(moved);
        }

        return run.Start;
    }

    /// <summary>The new refcount table and its blocks are stable (the refcount manager flushed them): name it.</summary>
    private void CommitMovedTable(RefcountTableLocation moved) =>
        _header.Commit(_header.Current with { RefcountTableOffset = moved.Offset.Value, RefcountTableClusters = moved.Clusters });

    private void RefuseMetadata(HostOffset host, GuestOffset guest)
    {
        if (_metadata.Contains(_geo.ClusterOf(host)))
        {
            throw new ImageCorruptException($"{_name}: refcounts mark cluster {host} free although it holds metadata", guest.Value, host.Value);
        }
    }

    /// <summary>Clusters freed so far: a writer that remembers a partly used host cluster may use its rest only while this is unchanged.</summary>
    public long FreedCount { get; private set; }

    private void OnFreed(HostCluster cluster)
    {
        FreedCount++;
        var offset = _geo.StartOf(cluster);
        if (_metadata.Remove(cluster))
        {
            for (long s = offset.Value; s < offset.Value + _geo.ClusterSize; s += _l2Cache.EntrySize)
            {
                _l2Cache.Drop(s);
            }

            _refcounts.Blocks.Drop(offset.Value);
        }

        if (_heldHoles is not null)
        {
            _heldHoles.Add(cluster.Index);
            return;
        }

        _file.PunchHole(offset.Value, _geo.ClusterSize);
    }
}
