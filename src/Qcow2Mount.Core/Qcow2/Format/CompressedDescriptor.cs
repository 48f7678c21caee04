namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>
/// The compressed cluster descriptor (spec §8): host byte offset in bits 0..x−1 and the number of additional
/// 512-byte sectors in bits x..61, with x = 62 − (cluster_bits − 8).
/// </summary>
public readonly record struct CompressedDescriptor(long HostOffset, int CompressedLength)
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
        return new CompressedDescriptor(offset, length);
    }

    /// <summary>The L2 descriptor for <paramref name="length"/> compressed bytes at <paramref name="offset"/> (COPIED never set).</summary>
    public static ulong Encode(long offset, int length, int clusterBits)
    {
        int x = OffsetBits(clusterBits);
        ulong additional = (ulong)(((offset + length - 1) / 512) - (offset / 512));
        return L2Entry.CompressedFlag | (additional << x) | (ulong)offset;
    }

    /// <summary>Host clusters the compressed bytes touch (each carries one reference from this cluster).</summary>
    public (long First, long Last) HostClusters(int clusterBits) =>
        (HostOffset >> clusterBits, (HostOffset + CompressedLength - 1) >> clusterBits);
}
