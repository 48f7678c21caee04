using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Tools.Advise;

/// <summary>
/// How one qcow2 file (its own L2 tables, not its backing chain) is allocated. Counts are in guest clusters:
/// <see cref="DataClusters"/> hold data (at least one allocated subcluster); <see cref="PartialClusters"/> of them
/// hold data in part only (exact from the subcluster bitmaps with extended L2, estimated from
/// <see cref="SampledClusters"/> sampled clusters without); <see cref="ReservedClusters"/> have a host cluster but
/// no data (preallocated or zeroed in place). Runs are guest-contiguous stretches of data.
/// </summary>
public sealed record AllocationProfile
{
    public long VirtualSize { get; init; }

    public int ClusterSize { get; init; }

    public bool ExtendedL2 { get; init; }

    public int SubclusterSize => ClusterGeometry.SubclusterSizeOf(ClusterSize, ExtendedL2);

    public string? BackingFile { get; init; }

    public long TotalClusters { get; init; }

    public long DataClusters { get; init; }

    public long DataBytes { get; init; }

    public long PartialClusters { get; init; }

    /// <summary>0 with extended L2 (the bitmaps are exact); else the clusters whose bytes were compared.</summary>
    public int SampledClusters { get; init; }

    public long CompressedClusters { get; init; }

    public long ZeroClusters { get; init; }

    public long ReservedClusters { get; init; }

    /// <summary>The file looks metadata-preallocated (far more clusters in use than the host file has allocated).</summary>
    public bool MetadataPreallocated { get; init; }

    public long Runs { get; init; }

    public long MedianRun { get; init; }

    public long LargestRun { get; init; }

    /// <summary>
    /// The typical size of one write, where it can be seen: the median stretch of written bytes inside partly
    /// written clusters (subclusters with extended L2, 4 KiB blocks that differ from what lies below without). 0 when
    /// no cluster is partly written.
    /// </summary>
    public long WriteUnit { get; init; }

    /// <summary>Clusters that have a host cluster: data, compressed or reserved.</summary>
    public long HostedClusters => DataClusters + CompressedClusters + ReservedClusters;
}
