using System.Buffers.Binary;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2.Check;

/// <summary>
/// Recomputes every refcount from the tables and writes a fresh refcount table and blocks (spec §5, §6).
/// Crash-safe order: the new table and blocks go to free space past everything in use and are flushed; only then
/// does one header write switch to them (the old structures are simply no longer referenced, so their clusters
/// count as free). COPIED flags are fixed against the new refcounts afterwards, and the dirty and corrupt bits
/// cleared once the image checks clean.
/// </summary>
public static class RefcountRebuilder
{
    /// <summary>
    /// Rebuilds the refcounts of the image in <paramref name="file"/> (opened writable, nothing else using it), e.g.
    /// an image left with the dirty bit by lazy refcounts. <paramref name="log"/> receives qemu-img-style messages.
    /// </summary>
    public static RepairResult Rebuild(IBlockDevice file, Action<string>? log = null)
    {
        var (first, final) = ImageChecker.RebuildAndCheck(file, log);
        return new RepairResult(first.LeaksFixed, first.CorruptionsFixed, final.Corruptions + final.CheckErrors, final.Leaks);
    }

    /// <summary>
    /// Writes the new structure for the references <paramref name="counter"/> found and points the header at it;
    /// returns the header as written.
    /// </summary>
    internal static Qcow2Header WriteNewStructure(IBlockDevice file, Qcow2Header header, ReferenceCounter counter)
    {
        var geo = header.Geometry;
        int cs = geo.ClusterSize;
        var refs = counter.Refs.AsSpan(0, (int)counter.NbClusters).ToArray();
        foreach (long c in counter.RefcountStructureClusters)
        {
            refs[c]--;
        }

        long end = Math.Max(geo.ClusterEnd(file.Length).Index, LastUsed(refs) + 1);
        var (tableClusters, blocks) = Create.RefcountStructureSize.For(geo, end);
        long tableStart = end;
        long blocksStart = end + tableClusters;
        long newEnd = blocksStart + blocks;
        var block = new byte[cs];
        var table = new byte[tableClusters * cs];
        for (long b = 0; b < blocks; b++)
        {
            Array.Clear(block);
            long firstCluster = geo.FirstClusterOfRefblock(b).Index;
            for (int i = 0; i < geo.RefblockEntries; i++)
            {
                long c = firstCluster + i;
                ulong value = c >= tableStart && c < newEnd ? 1UL : c < refs.Length ? refs[c] : 0UL;
                if (value != 0)
                {
                    RefcountBlock.Set(block, i, geo.RefcountOrder, Math.Min(value, geo.MaxRefcount));
                }
            }

            var blockOffset = geo.StartOf(new HostCluster(blocksStart + b));
            file.Write(blockOffset.Value, block);
            BinaryPrimitives.WriteUInt64BigEndian(table.AsSpan((int)(b * 8)), RefcountTableEntry.For(blockOffset).Raw);
        }

        var tableOffset = geo.StartOf(new HostCluster(tableStart));
        file.Write(tableOffset.Value, table);
        file.Flush();

        return HeaderStore.Write(file, header with { RefcountTableOffset = tableOffset.Value, RefcountTableClusters = (uint)tableClusters });
    }

    private static long LastUsed(ulong[] refs)
    {
        for (long i = refs.Length - 1; i >= 0; i--)
        {
            if (refs[i] != 0)
            {
                return i;
            }
        }

        return 0;
    }
}
