using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Qcow2.Check;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.Core.Qcow2.Metadata;

namespace Qcow2Mount.Core.Tools;

/// <summary>
/// Whether an image looks metadata-preallocated: clearly more clusters carry a refcount than the host file has
/// allocated (QEMU's heuristic: more than max(allocated × 10/9, allocated + 2) clusters in use). For such images
/// QEMU's block status asks the host file whether a data cluster is a hole and then reports it as zero.
/// </summary>
internal static class MetadataPreallocation
{
    public static bool Detect(string path)
    {
        using var file = FileBlockDevice.Open(path, readOnly: true);
        var header = HeaderStore.Read(file);
        var geo = header.Geometry;
        long realClusters = HostFile.AllocatedBytes(path) / geo.ClusterSize;
        long threshold = Math.Max(realClusters * 10 / 9, realClusters + 2);
        var refcounts = new OnDiskRefcounts(file, header);
        long inUse = 0;
        for (long c = 0, n = geo.ClustersFor(file.Length); c < n; c++)
        {
            if (refcounts.TryGet(c, out ulong r) && r > 0 && ++inUse > threshold)
            {
                return true;
            }
        }

        return false;
    }
}
