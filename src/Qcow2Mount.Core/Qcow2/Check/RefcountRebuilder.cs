using System.Buffers.Binary;
using Qcow2Mount.Core.Qcow2.Format;
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

    /// <summary>Writes the new structure for the references <paramref name="counter"/> found and points the header at it.</summary>
    internal static void WriteNewStructure(IBlockDevice file, Qcow2Header header, ReferenceCounter counter)
    {
        var geo = header.Geometry;
        int cs = geo.ClusterSize;
        var refs = counter.Refs.AsSpan(0, (int)counter.NbClusters).ToArray();
        foreach (long c in counter.RefcountStructureClusters)
        {
            refs[c]--;
        }

        long end = Math.Max(geo.ClustersFor(file.Length), LastUsed(refs) + 1);
        var (tableClusters, blocks) = Create.RefcountStructureSize.For(geo, end);
        long tableStart = end;
        long blocksStart = end + tableClusters;
        long newEnd = blocksStart + blocks;
        var block = new byte[cs];
        var table = new byte[tableClusters * cs];
        for (long b = 0; b < blocks; b++)
        {
            Array.Clear(block);
            for (int i = 0; i < geo.RefblockEntries; i++)
            {
                long c = (b * geo.RefblockEntries) + i;
                ulong value = c >= tableStart && c < newEnd ? 1UL : c < refs.Length ? refs[c] : 0UL;
                if (value != 0)
                {
                    RefcountBlock.Set(block, i, geo.RefcountOrder, Math.Min(value, geo.MaxRefcount));
                }
            }

            file.Write((blocksStart + b) * cs, block);
            BinaryPrimitives.WriteUInt64BigEndian(table.AsSpan((int)(b * 8)), (ulong)((blocksStart + b) * cs));
        }

        file.Write(tableStart * cs, table);
        file.Flush();

        header.RefcountTableOffset = tableStart * cs;
        header.RefcountTableClusters = (uint)tableClusters;
        WriteHeader(file, header);
    }

    /// <summary>Rewrites cluster 0 from <paramref name="header"/> and flushes.</summary>
    internal static void WriteHeader(IBlockDevice file, Qcow2Header header)
    {
        var cluster = new byte[header.ClusterSize];
        header.Serialize(cluster);
        file.Write(0, cluster);
        file.Flush();
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
