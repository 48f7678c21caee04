using Qcow2Mount.Core.Tools.BlockStatus;

namespace Qcow2Mount.Core.Tools.Measure;

/// <summary>
/// qemu-img measure: the size a new image needs, for a virtual size or for the content of an existing image (its
/// whole backing chain). A qcow2 target needs all the metadata of a fully allocated image plus one target cluster
/// for every target cluster the source has data in (by block status: zero ranges take nothing); with a backing file
/// or data preallocation it needs every cluster. A raw target needs the virtual size, rounded up to 512 bytes.
/// </summary>
public static class ImageMeasure
{
    /// <summary>Measure for a new image of <paramref name="size"/> bytes.</summary>
    public static MeasureResult ForSize(long size, MeasureTarget target)
    {
        if (target.Format == "raw")
        {
            long raw = Qcow2Layout.AlignUp(size, 512);
            return new MeasureResult(raw, raw, null);
        }

        long virtualSize = Qcow2Layout.AlignUp(size, target.ClusterSize);
        return Qcow2(virtualSize, target.PreallocateData ? virtualSize : 0, target, null);
    }

    /// <summary>
    /// Measure for a copy of <paramref name="path"/> (format <paramref name="format"/>, null = probe). An image that
    /// cannot be opened throws the engine's exception; one whose mapping breaks during the walk throws
    /// <see cref="MeasureFailedException"/>.
    /// </summary>
    public static MeasureResult ForImage(string path, string? format, MeasureTarget target, bool lockImage = true)
    {
        // Opening through the engine applies the backing-file policy and takes the read lock.
        using var disk = DiskImage.Open(path, format, new ImageOpenOptions { ReadOnly = true, Lock = lockImage });
        long sourceSize = HostFileStatus.SectorAligned(disk.Length);
        if (target.Format == "raw")
        {
            long raw = Qcow2Layout.AlignUp(sourceSize, 512);
            return new MeasureResult(raw, raw, null);
        }

        long virtualSize = Qcow2Layout.AlignUp(sourceSize, target.ClusterSize);
        long data = virtualSize;
        if (!target.HasBackingFile && !target.PreallocateData)
        {
            try
            {
                using var chain = ChainStatus.Open(path, format);
                data = DataClusterBytes(chain, sourceSize, target.ClusterSize);
            }
            catch (IOException e)
            {
                throw new MeasureFailedException($"Unable to get block status: {e.Message}", e);
            }
        }

        long? bitmaps = null;
        if (target.Version >= 3 && disk is Qcow2.Qcow2Image { Header.Version: >= 3 })
        {
            var info = ImageInfo.Read(path, "qcow2");
            bitmaps = BitmapBytes(info.Qcow2!.Bitmaps, sourceSize, target.ClusterSize);
        }

        return Qcow2(virtualSize, data, target, bitmaps);
    }

    /// <summary>
    /// Bytes of target clusters that hold data of the source: each data run counts from the start of its first
    /// target cluster to the end of its last one, and the walk resumes at that end (a cluster counts once).
    /// </summary>
    internal static long DataClusterBytes(ChainStatus chain, long sourceSize, int clusterSize)
    {
        long required = 0;
        for (long offset = 0; offset < sourceSize;)
        {
            var run = chain.Get(offset, sourceSize - offset);
            long n = run.Length;
            if (!run.IsZero && run.IsData && run.IsAllocated)
            {
                n = Qcow2Layout.AlignUp(offset + n, clusterSize) - offset;
                required += (offset % clusterSize) + n;
            }

            offset += n;
        }

        return required;
    }

    /// <summary>
    /// Space of persistent bitmaps in a qcow2 target: per bitmap its data clusters (one bit per granule) and its
    /// bitmap table (8 bytes per data cluster, whole clusters), then the bitmap directory in whole clusters.
    /// </summary>
    public static long BitmapBytes(IEnumerable<BitmapInfo> bitmaps, long virtualSize, int clusterSize)
    {
        long total = 0, directory = 0;
        foreach (var b in bitmaps)
        {
            long bits = (virtualSize + b.Granularity - 1) / b.Granularity;
            long clusters = ((bits + 7) / 8 + clusterSize - 1) / clusterSize;
            total += clusters * clusterSize;
            total += Qcow2Layout.AlignUp(clusters * 8, clusterSize);
            directory += Qcow2Layout.AlignUp(24 + System.Text.Encoding.UTF8.GetByteCount(b.Name), 8);
        }

        return total + Qcow2Layout.AlignUp(directory, clusterSize);
    }

    private static MeasureResult Qcow2(long virtualSize, long dataBytes, MeasureTarget t, long? bitmaps)
    {
        long full = Qcow2Layout.FullyAllocated(virtualSize, t.ClusterSize, t.ExtendedL2, t.RefcountBits);
        return new MeasureResult(full - virtualSize + dataBytes, full, bitmaps);
    }
}
