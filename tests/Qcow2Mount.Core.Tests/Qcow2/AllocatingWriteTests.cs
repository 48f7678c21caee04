using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>
/// Issue 18 target 2: 4 KiB writes into new clusters of an overlay over a populated backing file (workload 1 of the
/// bench). A write that covers whole subclusters reads nothing from the backing file; one inside a bigger (sub)cluster
/// reads the COW head and tail in one request, not two; and once warm the requests allocate nothing on the managed
/// heap (no GC pauses in the tail). The content is checked against a raw twin with qemu-img.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
public sealed class AllocatingWriteTests
{
    private const int K = 1024;
    private const long Size = 16L << 20;

    // extended L2, cluster size, offset of the 4 KiB write in its cluster, backing reads per write
    [TestCase("on", 64 * K, 4 * K, 0, TestName = "Write_4KiBAlignedInto64KiBExtendedCluster_ReadsNothingFromBacking")]
    [TestCase("on", 128 * K, 4 * K, 0, TestName = "Write_4KiBAlignedInto128KiBExtendedCluster_ReadsNothingFromBacking")]
    [TestCase("on", 512 * K, 0, 1, TestName = "Write_4KiBAtStartOf16KiBSubcluster_ReadsTheTailOnce")]
    [TestCase("on", 512 * K, 4 * K, 1, TestName = "Write_4KiBInsideA16KiBSubcluster_ReadsHeadAndTailInOneRequest")]
    [TestCase("off", 64 * K, 8 * K, 1, TestName = "Write_4KiBInsideANew64KiBCluster_ReadsHeadAndTailInOneRequest")]
    public void Write_4KiBIntoNewClusters_ReadsTheBackingFileOncePerCowAtMost(string extendedL2, int clusterSize, int inCluster, int readsPerWrite)
    {
        using var dir = new TempDir("alloc-write");
        string backing = dir.File("base.raw");
        string image = dir.File("disk.qcow2");
        var pattern = new byte[Size];
        new Random(18).NextBytes(pattern);
        File.WriteAllBytes(backing, pattern);
        QemuTools.CreateOverlay(image, backing, "raw", Size, new Dictionary<string, string> { ["extended_l2"] = extendedL2, ["cluster_size"] = clusterSize.ToString() });
        var block = new byte[4 * K];
        Array.Fill(block, (byte)7);
        int clusters = (int)(Size / clusterSize);
        string twin = dir.File("twin.raw");
        File.Copy(backing, twin);

        int reads;
        Qcow2Statistics statistics;
        using (var counted = new CountingDisk(new RawDisk(FileBlockDevice.Open(backing, readOnly: true))))
        using (var disk = Qcow2Image.Open(FileBlockDevice.Open(image, readOnly: false), new ImageOpenOptions(), counted))
        {
            for (int c = 0; c < clusters; c++)
            {
                disk.Write(((long)c * clusterSize) + inCluster, block);
            }

            reads = counted.Reads;
            statistics = disk.Statistics;
        }

        using (var file = File.OpenHandle(twin, FileMode.Open, FileAccess.ReadWrite))
        {
            for (int c = 0; c < clusters; c++)
            {
                RandomAccess.Write(file, block, ((long)c * clusterSize) + inCluster);
            }
        }

        int subcluster = extendedL2 == "on" ? clusterSize / 32 : clusterSize;
        long cowPerWrite = inCluster % (4 * K) == 0 && subcluster <= 4 * K ? 0 : subcluster - (4 * K);
        Assert.Multiple(() =>
        {
            Assert.That(reads, Is.EqualTo(readsPerWrite * clusters), $"backing reads for {clusters} writes");
            Assert.That(statistics.CowBytesRead, Is.EqualTo(cowPerWrite * clusters), "COW bytes read (the guest data's part not counted)");
            Assert.That(QemuTools.Compare(image, twin), Is.True, "qemu-img compare with the twin");
            Assert.That(QemuTools.Check(image).IsClean, Is.True, "qemu-img check");
        });
    }

    [TestCase(64 * K)]
    [TestCase(128 * K)]
    [TestCase(512 * K)]
    public void Write_4KiBIntoNewExtendedClusters_AllocatesNothing(int clusterSize)
    {
        using var dir = new TempDir("alloc-write");
        string backing = dir.File("base.raw");
        string image = dir.File("disk.qcow2");
        QemuTools.Create(backing, Size, format: "raw");
        QemuTools.CreateOverlay(image, backing, "raw", Size, new Dictionary<string, string> { ["extended_l2"] = "on", ["cluster_size"] = clusterSize.ToString() });
        var block = new byte[4 * K];
        Array.Fill(block, (byte)7);
        int clusters = (int)(Size / clusterSize);
        using var disk = Qcow2Image.Open(image);
        for (int c = 0; c < clusters / 2; c++)
        {
            disk.Write(((long)c * clusterSize) + (4 * K), block); // warm: every path once
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int c = clusters / 2; c < clusters; c++)
        {
            disk.Write(((long)c * clusterSize) + (4 * K), block);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(allocated, Is.Zero, $"bytes allocated by {clusters - (clusters / 2)} allocating 4 KiB writes");
    }
}
