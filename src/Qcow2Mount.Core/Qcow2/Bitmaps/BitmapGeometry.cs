namespace Qcow2Mount.Core.Qcow2.Bitmaps;

/// <summary>
/// Index arithmetic of one bitmap over a disk (spec "Bitmaps", bitmap table and data): bit k covers guest bytes
/// [k·granularity, (k+1)·granularity), bits are packed LSB first into bytes, bytes into bitmap data clusters; table
/// entry i names the cluster that holds bits [i·bitsPerCluster, (i+1)·bitsPerCluster). Unused tail bits are 0.
/// </summary>
internal readonly record struct BitmapGeometry(long DiskSize, int GranularityBits, int ClusterSize)
{
    /// <summary>QEMU's granularity limits (BME_MIN/MAX_GRANULARITY_BITS): 512 bytes to 2 GiB.</summary>
    public const int MinGranularityBits = 9;

    public const int MaxGranularityBits = 31;

    /// <summary>QEMU's limit on the bytes of one bitmap (BME_MAX_PHYS_SIZE, 512 MiB).</summary>
    public const long MaxBitmapBytes = 512L << 20;

    public long Granularity => 1L << GranularityBits;

    /// <summary>Bits of the bitmap: one per granule, the last granule possibly partial.</summary>
    public long BitCount => DiskSize == 0 ? 0 : ((DiskSize - 1) >> GranularityBits) + 1;

    public long ByteCount => (BitCount + 7) / 8;

    /// <summary>Bits one bitmap data cluster holds.</summary>
    public long BitsPerCluster => (long)ClusterSize * 8;

    /// <summary>Entries of the bitmap table.</summary>
    public long TableSize => (ByteCount + ClusterSize - 1) / ClusterSize;

    /// <summary>QEMU's default granularity for a new bitmap: the cluster size, at least 4 KiB and at most 64 KiB.</summary>
    public static int DefaultGranularityBits(int clusterBits) => Math.Clamp(clusterBits, 12, 16);

    /// <summary>The granules [first, last] that bytes [offset, offset+length) touch (length ≥ 1).</summary>
    public (long First, long Last) GranulesOf(long offset, long length) => (offset >> GranularityBits, (offset + length - 1) >> GranularityBits);

    /// <summary>Valid bits in table entry <paramref name="index"/>'s cluster (the last one may be partial).</summary>
    public long BitsInCluster(long index) => Math.Min(BitsPerCluster, BitCount - (index * BitsPerCluster));
}
