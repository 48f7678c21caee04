using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Qcow2.Create;

/// <summary>Size of a self-describing refcount structure (spec §5): a table and blocks that also count their own clusters.</summary>
internal static class RefcountStructureSize
{
    /// <summary>Table clusters and blocks needed to cover <paramref name="otherClusters"/> clusters plus the structure itself.</summary>
    public static (long TableClusters, long Blocks) For(ClusterGeometry geo, long otherClusters)
    {
        long table = 1, blocks = 1;
        while (true)
        {
            long total = otherClusters + table + blocks;
            long neededBlocks = geo.RefblocksFor(total);
            long neededTable = Math.Max(1, geo.ClustersFor(neededBlocks * 8));
            if (neededBlocks <= blocks && neededTable <= table)
            {
                return (table, blocks);
            }

            blocks = Math.Max(blocks, neededBlocks);
            table = Math.Max(table, neededTable);
        }
    }
}
