using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Conformance;

/// <summary>
/// <see cref="IVirtualDisk.Discard"/> promises "after it the range reads as zeros; unaligned parts are zero-written".
/// A bare QEMU discard ignores the parts that are not whole clusters; the seam's contract does not, and the random
/// workloads' raw twin relies on it.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
public sealed class DiscardContractTests
{
    [TestCase(false, false, 65536 + 1000, 3000, TestName = "Discard_UnalignedInsideAllocatedCluster_ReadsZero(standard L2)")]
    [TestCase(true, false, 65536 + 1000, 3000, TestName = "Discard_UnalignedInsideAllocatedCluster_ReadsZero(extended L2)")]
    [TestCase(true, false, 65536 + 4096, 8192, TestName = "Discard_SubclusterAlignedInsideAllocatedCluster_ReadsZero(extended L2)")]
    [TestCase(true, false, 60000, 140000, TestName = "Discard_AcrossClustersWithPartialHeadAndTail_ReadsZero(extended L2)")]
    [TestCase(true, true, 65536 + 1000, 3000, TestName = "Discard_UnalignedOverBackingData_ReadsZero(extended L2)")]
    [TestCase(false, true, 60000, 140000, TestName = "Discard_PartialHeadAndTailOverBackingData_ReadsZero(standard L2)")]
    public void Discard_Range_ReadsAsZerosAfterwards(bool extendedL2, bool backed, long offset, long length)
    {
        const long size = 1 << 20;
        using var dir = new TempDir("discard");
        string image = dir.File("image.qcow2");
        var options = new Dictionary<string, string> { ["extended_l2"] = extendedL2 ? "on" : "off" };
        if (backed)
        {
            TestImages.CreateOverlayOfFilledBacking(image, "raw", size, seed: 3, options: options);
        }
        else
        {
            QemuTools.Create(image, size, options);
            QemuTools.QemuIo(image, $"write -P 0xd5 0 {size}");
        }

        var after = new byte[length];
        var around = new byte[2];
        using (Qcow2Image disk = Qcow2Image.Open(image))
        {
            disk.Discard(offset, length);
            disk.Read(offset, after);
            disk.Read(offset - 1, around.AsSpan(0, 1));
            disk.Read(offset + length, around.AsSpan(1, 1));
        }

        Assert.Multiple(() =>
        {
            Assert.That(Array.FindIndex(after, b => b != 0), Is.EqualTo(-1), $"first non-zero byte (relative to {offset}) after Discard({offset}, {length})");
            Assert.That(around, Has.All.Not.Zero, "bytes just outside the range keep their data");
            Assert.That(QemuTools.Check(image).IsClean, Is.True);
        });
    }
}
