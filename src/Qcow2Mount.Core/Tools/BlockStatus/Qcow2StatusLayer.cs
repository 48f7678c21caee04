using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core.Qcow2;

namespace Qcow2Mount.Core.Tools.BlockStatus;

/// <summary>
/// One qcow2 file of a chain answering block status the way QEMU 7.2's qcow2 driver does for qemu-img: runs of one
/// subcluster type (host-contiguous where a host cluster exists), compressed clusters one at a time, never past the
/// end of the L2 slice QEMU's default cache uses, never longer than INT_MAX bytes; data clusters of a
/// metadata-preallocated image that are holes in the host file read as zero.
/// </summary>
internal sealed class Qcow2StatusLayer : StatusLayer
{
    /// <summary>QEMU's default L2 cache limit on Linux; a disk whose L2 tables need more gets 4 KiB slices.</summary>
    private const long DefaultL2CacheMax = 32L << 20;

    private readonly Qcow2Image _image;
    private readonly long _sliceCoverage;
    private readonly SafeFileHandle? _dataHandle;

    public Qcow2StatusLayer(string path)
    {
        _image = Qcow2Image.Open(path, new ImageOpenOptions { ReadOnly = true, FollowBacking = false, Lock = false });
        try
        {
            Identity = "qcow2:" + RealPath(path);
            var h = _image.Header;
            _sliceCoverage = SliceCoverage(h.Size, h.ClusterSize, h.HasExtendedL2);
            if (MetadataPreallocation.Detect(path))
            {
                string dataPath = h.HasExternalDataFile && h.ExternalDataFile is { } d ? d : path;
                _dataHandle = File.OpenHandle(dataPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            }
        }
        catch
        {
            _image.Dispose();
            throw;
        }
    }

    public override string Identity { get; }

    public override long Length => HostFileStatus.SectorAligned(_image.Length);

    public override bool SupportsBacking => true;

    /// <summary>
    /// Guest bytes one L2 slice maps under QEMU's default cache options: the whole L2 table when a 32 MiB cache covers
    /// the disk, else min(cluster, 4 KiB) of it.
    /// </summary>
    public static long SliceCoverage(long virtualSize, int clusterSize, bool extendedL2)
    {
        int entrySize = extendedL2 ? 16 : 8;
        long sectors = (virtualSize + 511) / 512 * 512;
        long maxEntries = (sectors + clusterSize - 1) / clusterSize;
        long maxCache = (maxEntries * entrySize + clusterSize - 1) / clusterSize * clusterSize;
        long sliceBytes = Math.Min(maxCache, DefaultL2CacheMax) < maxCache ? Math.Min(clusterSize, 4096) : clusterSize;
        return sliceBytes / entrySize * clusterSize;
    }

    public override (QemuStatus Flags, long Length) DriverStatus(long offset, long bytes)
    {
        bytes = Math.Min(bytes, int.MaxValue);
        long sliceEnd = ((offset / _sliceCoverage) + 1) * _sliceCoverage;
        var e = _image.GetBlockStatus(offset, Math.Min(bytes, sliceEnd - offset));
        long length = Math.Max(e.Length, 1);
        var flags = QemuStatus.None;
        bool hostOffset = e.HostOffset >= 0;
        if (e.IsPresent && e.IsData)
        {
            // NORMAL (host offset) or COMPRESSED (none).
            flags = QemuStatus.Data | (hostOffset ? QemuStatus.OffsetValid : 0);
        }
        else if (e.IsPresent)
        {
            // ZERO_PLAIN or ZERO_ALLOC.
            flags = QemuStatus.Zero | (hostOffset ? QemuStatus.OffsetValid : 0);
        }
        else if (hostOffset)
        {
            // UNALLOCATED_ALLOC: host space reserved, content from below.
            flags = QemuStatus.OffsetValid;
        }

        if (_dataHandle is not null && flags == (QemuStatus.Data | QemuStatus.OffsetValid))
        {
            // QEMU asks the host file about data clusters of a metadata-preallocated image (BDRV_BLOCK_RECURSE).
            var (file, n) = HostFileStatus.Get(_dataHandle, e.HostOffset, length);
            if ((file & QemuStatus.Eof) != 0 && (n == 0 || (file & QemuStatus.Zero) != 0))
            {
                flags |= QemuStatus.Zero;
            }
            else
            {
                length = n;
                flags |= file & QemuStatus.Zero;
            }
        }

        return (flags, length);
    }

    public override void Dispose()
    {
        _dataHandle?.Dispose();
        _image.Dispose();
    }
}
