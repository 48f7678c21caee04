using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Tools.Advise;

/// <summary>
/// One target layout the advice weighs, with what <c>measure</c> says a converted copy would need: the file size for
/// the image's data (<see cref="Required"/>), the size fully allocated, the metadata of a fully allocated image, and
/// the L2 cache that maps the whole disk (the memory a reader needs to never re-read an L2 table).
/// </summary>
public sealed record AdviceCandidate(int ClusterSize, bool ExtendedL2, long Required, long FullyAllocated, long Metadata, long L2CacheForDisk)
{
    public int SubclusterSize => ClusterGeometry.SubclusterSizeOf(ClusterSize, ExtendedL2);
}
