using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Backing;

/// <summary>
/// How many bytes a first write into an empty overlay copies from the backing file: only the unwritten part of the
/// touched subclusters with extended L2 (of the touched clusters without) — qemu-behaviour.md §3.1. The written data
/// and the copied fill must also read back right.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
public sealed class CopyOnWriteStatisticsTests
{
    private const long K = 1024;

    public static IEnumerable<TestCaseData> Cases()
    {
        // extended L2, cluster size, offset, length, expected bytes read from backing (= COW bytes written), backing?
        yield return Case("4 KiB aligned write, 128k ext-L2: no COW", true, 128 * K, 0, 4 * K, 0);
        yield return Case("1 KiB write, 128k ext-L2: rest of one 4 KiB subcluster", true, 128 * K, 0, 1 * K, 3 * K);
        yield return Case("1 KiB in the middle of subcluster 1, 128k ext-L2", true, 128 * K, (4 * K) + 1500, 1 * K, 3 * K);
        yield return Case("4 KiB unaligned across two subclusters, 128k ext-L2", true, 128 * K, 2 * K, 4 * K, 4 * K);
        yield return Case("whole 128k cluster, ext-L2", true, 128 * K, 128 * K, 128 * K, 0);
        yield return Case("1 KiB write, 64k ext-L2: rest of one 2 KiB subcluster", true, 64 * K, 0, 1 * K, 1 * K);
        yield return Case("100 B at 5000, 64k ext-L2 (strace example: 904 + 1044)", true, 64 * K, 5000, 100, 904 + 1044);
        yield return Case("1 KiB write, 64k standard L2: rest of the cluster", false, 64 * K, 0, 1 * K, 63 * K);
        yield return Case("whole 64k cluster, standard L2: no COW", false, 64 * K, 64 * K, 64 * K, 0);
        yield return Case("1 KiB across a cluster boundary, 64k standard L2: two clusters", false, 64 * K, (64 * K) - 512, 1 * K, (128 * K) - (1 * K));
        yield return Case("1 KiB write, 128k ext-L2, no backing file: nothing to read", true, 128 * K, 0, 1 * K, 0, withBacking: false);
    }

    [TestCaseSource(nameof(Cases))]
    public void Write_IntoEmptyOverlay_CopiesOnlyTheUnwrittenRestFromBacking(bool extendedL2, long clusterSize, long offset, int length, long expectedCow, bool withBacking)
    {
        using var dir = new TempDir("cow");
        const long size = 1 << 20;
        string image = dir.File("overlay.qcow2");
        var options = new Dictionary<string, string> { ["extended_l2"] = extendedL2 ? "on" : "off", ["cluster_size"] = clusterSize.ToString() };
        if (withBacking)
        {
            TestImages.CreateOverlayOfFilledBacking(image, "raw", size, seed: 77, options: options);
        }
        else
        {
            QemuTools.Create(image, size, options);
        }

        string twin = dir.File("twin.raw");
        QemuTools.ConvertToRaw(image, twin);
        var data = new byte[length];
        new Random(length).NextBytes(data);
        using (var file = File.OpenHandle(twin, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(file, data, offset);
        }

        Qcow2Statistics statistics;
        string readBack;
        using (Qcow2Image disk = Qcow2Image.Open(image))
        {
            disk.Write(offset, data);
            statistics = disk.Statistics;
            readBack = DiskContent.DescribeDifference(disk, twin);
        }

        Assert.Multiple(() =>
        {
            Assert.That(statistics.DataBytesWritten, Is.EqualTo(length), nameof(statistics.DataBytesWritten));
            Assert.That(statistics.CowBytesRead, Is.EqualTo(withBacking ? expectedCow : 0), nameof(statistics.CowBytesRead));
            if (withBacking)
            {
                Assert.That(statistics.CowBytesWritten, Is.EqualTo(expectedCow), nameof(statistics.CowBytesWritten));
            }

            Assert.That(readBack, Is.Empty, "read back through the engine");
            Assert.That(QemuTools.Compare(image, twin), Is.True, "qemu-img compare with the twin");
            Assert.That(QemuTools.Check(image).IsClean, Is.True, "qemu-img check");
        });
    }

    private static TestCaseData Case(string name, bool extendedL2, long clusterSize, long offset, long length, long expectedCow, bool withBacking = true) =>
        new TestCaseData(extendedL2, clusterSize, offset, (int)length, expectedCow, withBacking).SetArgDisplayNames(name);
}
