using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>
/// A first write into a new cluster with nothing under it (no backing file, unallocated) does not send the
/// cluster's zeros: the file system zeroes the range (FALLOC_FL_ZERO_RANGE) and only the guest data is written,
/// as QEMU does. A reused host cluster holding stale bytes must still read as zeros around the new data.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class ZeroCowTests
{
    private const int K = 1024;

    [TestCase("off", 2 * K * K, TestName = "Write_4KiBIntoNew2MiBCluster_WritesNoZeros")]
    [TestCase("off", 64 * K, TestName = "Write_4KiBIntoNew64KiBCluster_WritesNoZeros")]
    [TestCase("on", 2 * K * K, TestName = "Write_1KiBIntoNew2MiBExtendedCluster_WritesNoZeros")]
    public void Write_IntoNewClusterWithoutBacking_ZeroRangeInsteadOfZeros(string extendedL2, int clusterSize)
    {
        using var dir = new TempDir("zero-cow");
        string image = dir.File("disk.qcow2");
        QemuTools.Create(image, 64L << 20, new Dictionary<string, string> { ["extended_l2"] = extendedL2, ["cluster_size"] = clusterSize.ToString() });
        int length = extendedL2 == "on" ? K : 4 * K;
        long offset = (3L * clusterSize) + (5 * K);
        var data = new byte[length];
        new Random(clusterSize).NextBytes(data);

        Qcow2Statistics statistics;
        using (var disk = Qcow2Image.Open(image))
        {
            disk.Write(offset, data);
            statistics = disk.Statistics;
        }

        string twin = dir.File("twin.raw");
        QemuTools.ConvertToRaw(image, twin);
        var expected = new byte[new FileInfo(twin).Length];
        data.CopyTo(expected, offset);
        Assert.Multiple(() =>
        {
            Assert.That(statistics.CowBytesWritten, Is.Zero, "no zeros sent along with the data");
            Assert.That(statistics.DataBytesWritten, Is.EqualTo(length));
            Assert.That(File.ReadAllBytes(twin), Is.EqualTo(expected), "qemu-img convert of the image");
            Assert.That(QemuTools.Check(image).IsClean, Is.True, "qemu-img check");
        });
    }

    [Test]
    public void Write_IntoReusedClusterWithStaleBytes_ReadsZerosAroundTheData()
    {
        using var dir = new TempDir("zero-cow");
        string image = dir.File("disk.qcow2");
        const int cluster = 64 * K;
        QemuTools.Create(image, 16L << 20, new Dictionary<string, string> { ["cluster_size"] = cluster.ToString() });
        var stale = new byte[cluster];
        Array.Fill(stale, (byte)0xa5);
        var data = new byte[4 * K];
        Array.Fill(data, (byte)0x3c);
        using (var disk = Qcow2Image.Open(image))
        {
            disk.Write(0, stale);      // host cluster H gets 0xa5
            disk.Discard(0, cluster);  // H is freed (its bytes may stay on disk)
            disk.Flush();
            disk.Write(cluster + (8 * K), data); // a new cluster, possibly H again
        }

        string twin = dir.File("twin.raw");
        QemuTools.ConvertToRaw(image, twin);
        var expected = new byte[16 << 20];
        data.CopyTo(expected, cluster + (8 * K));
        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllBytes(twin), Is.EqualTo(expected));
            Assert.That(QemuTools.Check(image).IsClean, Is.True, "qemu-img check");
        });
    }
}
