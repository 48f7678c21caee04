using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Qcow2.Metadata;

/// <summary>
/// The host clusters that hold metadata (header, L1, refcount and snapshot tables, refcount blocks, L2 tables):
/// guest data there would let a write destroy the image (the overlap check), and the allocator handing one out means
/// the refcounts lie. Also the L2 tables an L1 entry shares with other metadata, which are corrupt on use.
/// Built at open from the plausible offsets only, so it holds no more clusters than the file has. Metadata lock held.
/// </summary>
internal sealed class MetadataClusters
{
    private readonly HashSet<long> _clusters = new();
    private readonly HashSet<long> _overlappingL2Tables = new();

    public bool Contains(HostCluster cluster) => _clusters.Contains(cluster.Index);

    public void Add(HostCluster cluster) => _clusters.Add(cluster.Index);

    /// <summary>Every cluster <paramref name="length"/> bytes at <paramref name="offset"/> touch (at least one).</summary>
    public void AddRange(ClusterGeometry geo, HostOffset offset, long length)
    {
        var (first, last) = geo.ClustersOf(offset, length);
        for (var c = first; c <= last; c = c.Next)
        {
            _clusters.Add(c.Index);
        }
    }

    /// <summary>
    /// An L2 table must own its cluster: one that is also the header, a table, a refcount block or another L1
    /// entry's L2 table would let a write through it rewrite that structure.
    /// </summary>
    public void AddL2Table(HostCluster cluster)
    {
        if (!_clusters.Add(cluster.Index))
        {
            _overlappingL2Tables.Add(cluster.Index);
        }
    }

    public bool IsOverlappingL2Table(HostCluster cluster) => _overlappingL2Tables.Contains(cluster.Index);

    /// <summary>Forgets a freed cluster; true when it held metadata (its cached copies must go too).</summary>
    public bool Remove(HostCluster cluster) => _clusters.Remove(cluster.Index);
}
