namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>
/// The compressed cluster descriptor (spec §8): host byte offset in bits 0..x−1 and the number of additional
/// 512-byte sectors in bits x..61, with x = 62 − (cluster_bits − 8).
/// </summary>
public readonly record struct CompressedDescriptor(HostOffset HostOffset, int CompressedLength)
{
    public static int OffsetBits(int clusterBits) => 62 - (clusterBits - 8);

    public static CompressedDescriptor Decode(L2Entry entry, int clusterBits)
    {
        int x = OffsetBits(clusterBits);
        ulong offsetMask = (1UL << x) - 1;
        ulong sizeMask = (1UL << (clusterBits - 8)) - 1;
        long offset = (long)(entry.Raw & offsetMask);
        long sectors = (long)((entry.Raw >> x) & sizeMask) + 1;
        int length = (int)((sectors * 512) - (offset & 511));
        return new CompressedDescriptor(new HostOffset(offset), length);
    }

    /// <summary>The L2 entry for <paramref name="length"/> compressed bytes at <paramref name="offset"/> (COPIED never set, bitmap 0).</summary>
    public static L2Entry Encode(HostOffset offset, int length, int clusterBits)
    {
        int x = OffsetBits(clusterBits);
        ulong additional = (ulong)(((offset.Value + length - 1) / 512) - (offset.Value / 512));
        return new L2Entry(L2Entry.CompressedFlag | (additional << x) | (ulong)offset.Value, 0);
    }

    /// <summary>Host clusters the compressed bytes touch (each carries one reference from this cluster).</summary>
    public (HostCluster First, HostCluster Last) HostClusters(ClusterGeometry geo) => geo.ClustersOf(HostOffset, CompressedLength);
}
