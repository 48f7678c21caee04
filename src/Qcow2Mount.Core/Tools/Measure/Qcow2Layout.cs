namespace Qcow2Mount.Core.Tools.Measure;

/// <summary>
/// Size of a qcow2 image whose every guest cluster is allocated, from the format's structures (spec §2, §4, §5):
/// the header cluster; one L2 table (one cluster) per cluster_size / entry_size guest clusters (8-byte entries, 16
/// with extended L2); an L1 table of one 8-byte entry per L2 table, rounded up to whole clusters; the data clusters;
/// and a refcount table with refcount blocks that count every cluster of the file, themselves included.
/// </summary>
public static class Qcow2Layout
{
    /// <summary>QEMU refuses an L1 table over 32 MiB: this bounds the virtual size per cluster size.</summary>
    public const long MaxL1Bytes = 32L << 20;

    /// <summary>Bytes of a fully allocated image of <paramref name="virtualSize"/> bytes (rounded up to a cluster).</summary>
    public static long FullyAllocated(long virtualSize, int clusterSize, bool extendedL2, int refcountBits)
    {
        long data = AlignUp(virtualSize, clusterSize);
        return Metadata(data, clusterSize, extendedL2, refcountBits) + data;
    }

    /// <summary>Header, L1, L2 and refcount bytes of a fully allocated image with <paramref name="dataBytes"/> of data clusters.</summary>
    public static long Metadata(long dataBytes, int clusterSize, bool extendedL2, int refcountBits)
    {
        long dataClusters = dataBytes / clusterSize;
        long l2Tables = L2Tables(dataBytes, clusterSize, extendedL2);
        long l1Clusters = DivUp(l2Tables * 8, clusterSize);
        long counted = 1 + l2Tables + l1Clusters + dataClusters;
        var (table, blocks) = RefcountClusters(counted, clusterSize, refcountBits);
        return (1 + l2Tables + l1Clusters + table + blocks) * clusterSize;
    }

    /// <summary>L2 tables needed to map <paramref name="virtualSize"/> bytes.</summary>
    public static long L2Tables(long virtualSize, int clusterSize, bool extendedL2)
    {
        long entriesPerTable = clusterSize / (extendedL2 ? 16 : 8);
        return DivUp(DivUp(virtualSize, clusterSize), entriesPerTable);
    }

    /// <summary>True when the L1 table for <paramref name="virtualSize"/> would exceed QEMU's limit.</summary>
    public static bool IsTooLarge(long virtualSize, int clusterSize, bool extendedL2) =>
        L2Tables(AlignUp(virtualSize, clusterSize), clusterSize, extendedL2) * 8 > MaxL1Bytes;

    /// <summary>
    /// Refcount table clusters and refcount blocks for <paramref name="otherClusters"/> clusters: the smallest
    /// structure that also has room for its own clusters (blocks and table grow together until neither has to).
    /// </summary>
    public static (long TableClusters, long Blocks) RefcountClusters(long otherClusters, int clusterSize, int refcountBits)
    {
        long perBlock = (long)clusterSize * 8 / refcountBits;
        long perTableCluster = clusterSize / 8;
        long table = 0, blocks = 0;
        while (true)
        {
            long neededBlocks = DivUp(otherClusters + table + blocks, perBlock);
            long neededTable = DivUp(neededBlocks, perTableCluster);
            if (neededBlocks == blocks && neededTable == table)
            {
                return (table, blocks);
            }

            blocks = neededBlocks;
            table = neededTable;
        }
    }

    public static long AlignUp(long value, long alignment) => DivUp(value, alignment) * alignment;

    private static long DivUp(long value, long divisor) => (value + divisor - 1) / divisor;
}
