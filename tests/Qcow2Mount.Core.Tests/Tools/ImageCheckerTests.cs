using Qcow2Mount.Core.Qcow2.Check;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Tests.Tools;

[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class ImageCheckerTests : ToolsTestDirectory
{
    /// <summary>Images QEMU writes (options, qemu-io commands, snapshot between command groups).</summary>
    private static readonly TestCaseData[] CleanImages =
    [
        new TestCaseData("cluster_size=65536", new[] { "write -P 1 0 1M", "write -z 2M 128k" }, false).SetName("Standard"),
        new TestCaseData("extended_l2=on,cluster_size=65536", new[] { "write -P 1 1k 3k", "write 100k 300k", "write -z 1M 64k", "discard 640k 64k" }, false).SetName("ExtendedL2"),
        new TestCaseData("cluster_size=65536", new[] { "write -P 1 0 1M" }, true).SetName("Snapshots"),
        new TestCaseData("extended_l2=on,cluster_size=65536", new[] { "write -P 1 0 512k", "write 2M 4k" }, true).SetName("ExtendedL2Snapshots"),
        new TestCaseData("cluster_size=65536", new[] { "write -c -P 3 0 64k", "write -c -P 4 64k 64k", "write -c 1M 64k", "write 2M 64k" }, false).SetName("Compressed"),
        new TestCaseData("cluster_size=4096,compression_type=zstd", new[] { "write -c -P 3 0 4k", "write -c -P 9 8k 4k" }, true).SetName("CompressedZstdSnapshots"),
        new TestCaseData("refcount_bits=1,cluster_size=65536", new[] { "write -P 1 0 300k" }, false).SetName("Refcount1"),
        new TestCaseData("refcount_bits=64,cluster_size=512", new[] { "write -P 1 0 300k" }, true).SetName("Refcount64"),
        new TestCaseData("compat=0.10", new[] { "write -P 1 0 300k" }, true).SetName("Compat010"),
    ];

    [TestCaseSource(nameof(CleanImages))]
    public void Check_QemuMadeImage_CleanWithSameStatisticsAsQemu(string options, string[] commands, bool snapshot)
    {
        string image = MakeImage(options, commands, snapshot);
        var ours = ImageChecker.Check(image);
        var (code, theirs) = QemuTools.CheckJson(image);
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(0));
            Assert.That(ours.ExitCode, Is.EqualTo(0));
            AssertSameCounts(ours, theirs);
        });
    }

    /// <summary>One fault per case, applied to a fresh standard or extended-L2 image with data at guest 0 (L2 entry 0).</summary>
    private static readonly TestCaseData[] BrokenImages =
    [
        new TestCaseData("cluster_size=65536", "leak").SetName("LeakedClusters"),
        new TestCaseData("cluster_size=65536", "low-refcount").SetName("RefcountTooLow"),
        new TestCaseData("cluster_size=65536", "zero-refcount").SetName("RefcountZeroButReferenced"),
        new TestCaseData("cluster_size=65536", "l2-reserved").SetName("L2ReservedBits"),
        new TestCaseData("extended_l2=on,cluster_size=65536", "l2-reserved").SetName("L2ReservedBitsExtended"),
        new TestCaseData("cluster_size=65536", "l1-reserved").SetName("L1ReservedBits"),
        new TestCaseData("cluster_size=65536", "copied-missing").SetName("CopiedFlagMissing"),
        new TestCaseData("cluster_size=65536", "l1-copied-missing").SetName("L1CopiedFlagMissing"),
        new TestCaseData("extended_l2=on,cluster_size=65536", "alloc-zero").SetName("AllocatedAndZeroSubcluster"),
        new TestCaseData("extended_l2=on,cluster_size=65536", "alloc-unallocated").SetName("AllocBitsOnUnallocatedCluster"),
        new TestCaseData("cluster_size=65536", "unaligned-data").SetName("UnalignedDataCluster"),
        new TestCaseData("cluster_size=65536", "reftable-reserved").SetName("RefcountTableReservedBits"),
        new TestCaseData("cluster_size=65536", "compressed-copied").SetName("CompressedWithCopiedFlag"),
        new TestCaseData("extended_l2=on,cluster_size=65536", "compressed-bitmap").SetName("CompressedWithBitmap"),
        new TestCaseData("cluster_size=65536", "beyond-eof").SetName("DataClusterBeyondEndOfFile"),
    ];

    [TestCaseSource(nameof(BrokenImages))]
    public void Check_BrokenImage_SameClassificationAndExitCodeAsQemu(string options, string fault)
    {
        string image = MakeBroken(options, fault);
        var lines = new List<string>();
        var ours = ImageChecker.Check(image, CheckRepair.None, lines.Add);
        var (code, theirs) = QemuTools.CheckJson(image);
        string theirLines = QemuTools.Run("qemu-img", "check", image).Stderr;
        Assert.Multiple(() =>
        {
            Assert.That(ours.ExitCode, Is.EqualTo(code));
            Assert.That(ours.Corruptions, Is.EqualTo(QemuTools.Long(theirs, "corruptions")), "corruptions");
            Assert.That(ours.Leaks, Is.EqualTo(QemuTools.Long(theirs, "leaks")), "leaks");
            AssertSameCounts(ours, theirs);
            Assert.That(string.Join("\n", lines), Is.EqualTo(theirLines.TrimEnd('\n')), "messages on stderr");
        });
    }

    [TestCaseSource(nameof(BrokenImages))]
    public void RepairAll_BrokenImage_QemuChecksClean_DataKept(string options, string fault)
    {
        string image = MakeBroken(options, fault);
        string before = PathOf("before.qcow2");
        File.Copy(image, before);
        var result = ImageChecker.Check(image, CheckRepair.All);
        var (code, theirs) = QemuTools.CheckJson(image);
        bool unrepairable = fault is "l2-reserved" or "l1-reserved" or "unaligned-data" or "beyond-eof";
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(unrepairable ? 2 : 0), theirs.ToJsonString());
            Assert.That(result.ExitCode, Is.EqualTo(code));
            if (!unrepairable)
            {
                Assert.That(result.CorruptionsFixed + result.LeaksFixed, Is.GreaterThan(0));
            }

            // Contradicting subcluster bits make the original unreadable (EIO); elsewhere the content must not change.
            if (fault is "alloc-zero" or "alloc-unallocated")
            {
                Assert.That(QemuTools.Run("qemu-img", "compare", image, image).Code, Is.EqualTo(0), "repaired image is readable");
            }
            else if (!unrepairable)
            {
                Assert.That(QemuTools.Compare(before, image, "qcow2", "qcow2"), Is.True, "content changed by the repair");
            }
        });
    }

    [Test]
    public void RepairLeaks_LeakedClusters_FixedAndQemuClean()
    {
        string image = MakeBroken("cluster_size=65536", "leak");
        var result = ImageChecker.Check(image, CheckRepair.Leaks);
        Assert.Multiple(() =>
        {
            Assert.That(result.LeaksFixed, Is.EqualTo(2));
            Assert.That(result.ExitCode, Is.EqualTo(0));
            Assert.That(QemuTools.CheckJson(image).Code, Is.EqualTo(0));
        });
    }

    [Test]
    public void RepairLeaks_ReferencedClusterWithRefcountZero_AbortsLikeQemu()
    {
        string image = MakeBroken("cluster_size=65536", "zero-refcount");
        var lines = new List<string>();
        var result = ImageChecker.Check(image, CheckRepair.Leaks, lines.Add);
        Assert.Multiple(() =>
        {
            Assert.That(result.Aborted, Is.True);
            Assert.That(result.ExitCode, Is.EqualTo(1));
            Assert.That(lines, Does.Contain("ERROR need to rebuild refcount structures"));
            Assert.That(QemuTools.Run("qemu-img", "check", "-r", "leaks", MakeBroken("cluster_size=65536", "zero-refcount")).Code, Is.EqualTo(1));
        });
    }

    [TestCase("cluster_size=65536", true)]
    [TestCase("extended_l2=on,cluster_size=16384,refcount_bits=1", false)]
    [TestCase("cluster_size=512,refcount_bits=64", true)]
    public void Rebuild_CleanImage_StaysCleanWithSameContent(string options, bool snapshot)
    {
        string image = MakeImage(options, ["write -P 1 0 700k", "write -c -P 2 1M 64k"], snapshot && !options.Contains("refcount_bits=1", StringComparison.Ordinal));
        string before = PathOf("before.qcow2");
        File.Copy(image, before);
        RepairResult result;
        using (var file = FileBlockDevice.Open(image, readOnly: false))
        {
            result = RefcountRebuilder.Rebuild(file);
        }

        Assert.Multiple(() =>
        {
            Assert.That(result.IsClean, Is.True);
            Assert.That(QemuTools.CheckJson(image).Code, Is.EqualTo(0));
            Assert.That(QemuTools.Compare(before, image, "qcow2", "qcow2"), Is.True);
        });
    }

    [Test]
    public void Rebuild_DirtyImageFromLazyRefcountsCrash_CleanAndDirtyBitCleared()
    {
        string image = PathOf("lazy.qcow2");
        QemuTools.Create(image, "lazy_refcounts=on,cluster_size=65536", 16 << 20);
        // qemu-io's abort leaves the image as a crash would: dirty bit set, refcounts not written.
        QemuTools.Run("qemu-io", "-f", "qcow2", "-c", "write -P 7 0 3M", "-c", "abort", image);
        var dirty = QemuTools.Json(QemuTools.Ok("qemu-img", "info", "--output=json", "-U", image));
        Assert.That(dirty["dirty-flag"]!.GetValue<bool>(), Is.True, "precondition: the crash left the dirty bit");

        using (var file = FileBlockDevice.Open(image, readOnly: false))
        {
            var result = RefcountRebuilder.Rebuild(file);
            Assert.That(result.IsClean, Is.True);
        }

        var info = QemuTools.Json(QemuTools.Ok("qemu-img", "info", "--output=json", image));
        Assert.Multiple(() =>
        {
            Assert.That(info["dirty-flag"]!.GetValue<bool>(), Is.False);
            Assert.That(QemuTools.CheckJson(image).Code, Is.EqualTo(0));
        });
        QemuTools.QemuIo(image, "read -P 7 0 3M");
    }

    [Test]
    public void RepairAll_CorruptBitSet_Cleared()
    {
        string image = MakeBroken("cluster_size=65536", "leak");
        ulong incompatible = ImageBytes.ReadU64(image, 72);
        ImageBytes.WriteU64(image, 72, incompatible | 2);
        ImageChecker.Check(image, CheckRepair.All);
        Assert.That(ImageBytes.ReadU64(image, 72) & 2, Is.EqualTo(0UL));
    }

    private static void AssertSameCounts(CheckResult ours, System.Text.Json.Nodes.JsonObject theirs)
    {
        Assert.That(ours.AllocatedClusters, Is.EqualTo(QemuTools.Long(theirs, "allocated-clusters")), "allocated-clusters");
        Assert.That(ours.FragmentedClusters, Is.EqualTo(QemuTools.Long(theirs, "fragmented-clusters")), "fragmented-clusters");
        Assert.That(ours.CompressedClusters, Is.EqualTo(QemuTools.Long(theirs, "compressed-clusters")), "compressed-clusters");
        Assert.That(ours.TotalClusters, Is.EqualTo(QemuTools.Long(theirs, "total-clusters")), "total-clusters");
        Assert.That(ours.ImageEndOffset, Is.EqualTo(QemuTools.Long(theirs, "image-end-offset")), "image-end-offset");
    }

    private string MakeImage(string options, string[] commands, bool snapshot)
    {
        string image = PathOf("image.qcow2");
        File.Delete(image);
        QemuTools.Create(image, options, 8 << 20);
        QemuTools.QemuIo(image, commands);
        if (snapshot)
        {
            QemuTools.Ok("qemu-img", "snapshot", "-c", "first", image);
            QemuTools.QemuIo(image, "write -P 9 0 64k", "write -P 8 5M 64k");
            QemuTools.Ok("qemu-img", "snapshot", "-c", "second", image);
            QemuTools.QemuIo(image, "write -P 10 32k 64k");
        }

        return image;
    }

    private string MakeBroken(string options, string fault)
    {
        string image = PathOf($"broken-{Guid.NewGuid():N}.qcow2");
        QemuTools.Create(image, options, 4 << 20);
        string[] writes = fault switch
        {
            "compressed-copied" or "compressed-bitmap" => ["write -c 0 64k"],
            "alloc-unallocated" => ["write 0 64k", "write -z 64k 64k"],
            _ => ["write 0 64k"],
        };
        QemuTools.QemuIo(image, writes);
        long l1 = (long)ImageBytes.ReadU64(image, 40);
        long reftable = (long)ImageBytes.ReadU64(image, 48);
        long l2 = (long)(ImageBytes.ReadU64(image, l1) & 0x00FFFFFFFFFFFE00UL);
        long refblock = (long)ImageBytes.ReadU64(image, reftable);
        bool extended = options.Contains("extended_l2=on", StringComparison.Ordinal);
        switch (fault)
        {
            case "leak":
                using (var f = File.OpenWrite(image))
                {
                    f.SetLength(2 << 20);
                }

                ImageBytes.Patch(image, refblock + (2 * 24), [0, 1, 0, 1]);
                break;
            case "low-refcount":
                // The snapshot makes the data cluster (cluster 5) shared: refcount 2, lowered to 1.
                QemuTools.Ok("qemu-img", "snapshot", "-c", "s", image);
                ImageBytes.Patch(image, (long)ImageBytes.ReadU64(image, (long)ImageBytes.ReadU64(image, 48)) + (2 * 5), [0, 1]);
                break;
            case "zero-refcount":
                ImageBytes.Patch(image, refblock + (2 * 5), [0, 0]);
                break;
            case "l2-reserved":
                ImageBytes.WriteU64(image, l2, ImageBytes.ReadU64(image, l2) | 0x2);
                break;
            case "l1-reserved":
                ImageBytes.WriteU64(image, l1, ImageBytes.ReadU64(image, l1) | 0x1);
                break;
            case "copied-missing":
                ImageBytes.WriteU64(image, l2, ImageBytes.ReadU64(image, l2) & ~(1UL << 63));
                break;
            case "l1-copied-missing":
                ImageBytes.WriteU64(image, l1, ImageBytes.ReadU64(image, l1) & ~(1UL << 63));
                break;
            case "alloc-zero":
                ImageBytes.WriteU64(image, l2 + 8, ImageBytes.ReadU64(image, l2 + 8) | (1UL << 32));
                break;
            case "alloc-unallocated":
                ImageBytes.WriteU64(image, l2 + 16 + 8, 1);
                break;
            case "unaligned-data":
                ImageBytes.WriteU64(image, l2, ImageBytes.ReadU64(image, l2) + 0x200);
                break;
            case "reftable-reserved":
                ImageBytes.WriteU64(image, reftable, ImageBytes.ReadU64(image, reftable) | 1);
                break;
            case "compressed-copied":
                ImageBytes.WriteU64(image, l2, ImageBytes.ReadU64(image, l2) | (1UL << 63));
                break;
            case "compressed-bitmap":
                ImageBytes.WriteU64(image, l2 + 8, 1);
                break;
            case "beyond-eof":
                ImageBytes.WriteU64(image, l2 + (extended ? 16 : 8), 0x8000000001000000UL);
                break;
        }

        return image;
    }
}
