using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Cli.Tests.Commands;

/// <summary>
/// <c>qcow2mount commit</c> against <c>qemu-img commit</c> on a twin of the same chain: the resulting images compare
/// identical to the twin's, <c>qemu-img check</c> is clean on every image touched, the overlay is emptied as QEMU
/// empties it, and the error cases give qemu-img's exit codes and messages without changing any file.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class CommitCommandTests : ChainCommandTestBase
{
    [Test]
    public void Commit_IntoDirectBacking_SameImagesAsQemuImgAndOverlayEmptied()
    {
        QemuImage("base.qcow2", "cluster_size=65536", "4M", "write -P 0x11 0 4M");
        Overlay("top.qcow2", "base.qcow2", "qcow2", ioCommands: ["write -P 0x22 100k 200k", "write -z 1M 128k", "write -z 2M 4k", "write -P 0x33 3M 1k"]);
        MakeTwins("base.qcow2", "top.qcow2");

        var ours = CliHarness.Run("commit", PathOf("top.qcow2"));
        QemuTools.Ok("qemu-img", "commit", Twin("top.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(ours, Is.EqualTo((0, "Image committed.\n", "")));
            AssertSameContent(PathOf("base.qcow2"), Twin("base.qcow2"));
            AssertSameContent(PathOf("top.qcow2"), Twin("top.qcow2"));
            AssertClean(PathOf("base.qcow2"), PathOf("top.qcow2"));
            Assert.That(Shape(PathOf("base.qcow2")), Is.EqualTo(Shape(Twin("base.qcow2"))), "zero clusters stay zero clusters, as QEMU commits them");
            Assert.That(Shape(PathOf("top.qcow2")), Is.EqualTo(Shape(Twin("top.qcow2"))).And.Not.Contain("depth=0"), "every cluster of the overlay unallocated again");
            Assert.That(new FileInfo(PathOf("top.qcow2")).Length, Is.EqualTo(new FileInfo(Twin("top.qcow2")).Length), "the emptied overlay is as short as QEMU's");
        });
    }

    [TestCase("stored")]
    [TestCase("absolute")]
    public void Commit_DeeperBaseOfThreeLevels_IntermediateDataIncludedBaseGrownTopKept(string named)
    {
        QemuImage("base.qcow2", "cluster_size=65536", "1M", "write -P 0x01 0 1M");
        Overlay("mid.qcow2", "base.qcow2", "qcow2", size: "2M", ioCommands: ["write -P 0x02 64k 64k", "write -P 0x02 1088k 64k"]);
        Overlay("top.qcow2", "mid.qcow2", "qcow2", size: "3M", ioCommands: ["write -P 0x03 96k 64k", "write -P 0x03 2560k 4k"]);
        MakeTwins("base.qcow2", "mid.qcow2", "top.qcow2");
        string topBefore = Checksum.Sha256OfFile(PathOf("top.qcow2"));

        // BASE as the chain stores it (a name relative to mid.qcow2) or as a path of its own.
        var ours = CliHarness.Run("commit", "-b", named == "stored" ? "base.qcow2" : PathOf("base.qcow2"), PathOf("top.qcow2"));
        QemuTools.Ok("qemu-img", "commit", "-b", named == "stored" ? "base.qcow2" : Twin("base.qcow2"), Twin("top.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(ours, Is.EqualTo((0, "Image committed.\n", "")));
            AssertSameContent(PathOf("base.qcow2"), Twin("base.qcow2"));
            Assert.That(QemuTools.Info(PathOf("base.qcow2")).GetProperty("virtual-size").GetInt64(), Is.EqualTo(3L << 20), "BASE grows to the top's size");
            Assert.That(Shape(PathOf("base.qcow2")), Is.EqualTo(Shape(Twin("base.qcow2"))), "past the end of mid the top reads zeros: zero clusters in BASE, as QEMU");
            Assert.That(Checksum.Sha256OfFile(PathOf("top.qcow2")), Is.EqualTo(topBefore), "-b implies -d: the top stays as it was");
            AssertClean(PathOf("base.qcow2"), PathOf("mid.qcow2"), PathOf("top.qcow2"));
        });
    }

    /// <summary>Emptying an overlay with an internal snapshot drops only the live disk's references: the snapshot stays readable.</summary>
    [Test]
    public void Commit_OverlayWithInternalSnapshot_SnapshotKeptOverlayEmptied()
    {
        QemuImage("base.qcow2", "cluster_size=65536", "4M");
        Overlay("top.qcow2", "base.qcow2", "qcow2", ioCommands: ["write -P 1 0 1M", "write -c -P 3 2M 64k"]);
        QemuTools.CreateSnapshot(PathOf("top.qcow2"), "s1");
        QemuTools.Ok("qemu-io", "-f", "qcow2", "-c", "write -P 2 512k 1M", PathOf("top.qcow2"));
        MakeTwins("base.qcow2", "top.qcow2");

        var ours = CliHarness.Run("commit", PathOf("top.qcow2"));
        QemuTools.Ok("qemu-img", "commit", Twin("top.qcow2"));
        QemuTools.ConvertToRaw(PathOf("top.qcow2"), PathOf("s1.raw"), snapshotName: "s1");
        QemuTools.ConvertToRaw(Twin("top.qcow2"), Twin("s1.raw"), snapshotName: "s1");

        Assert.Multiple(() =>
        {
            Assert.That(ours.Code, Is.Zero, ours.Stderr);
            AssertSameContent(PathOf("base.qcow2"), Twin("base.qcow2"));
            AssertSameContent(PathOf("top.qcow2"), Twin("top.qcow2"));
            Assert.That(File.ReadAllBytes(PathOf("s1.raw")), Is.EqualTo(File.ReadAllBytes(Twin("s1.raw"))), "the snapshot reads as in qemu-img's twin");
            Assert.That(Shape(PathOf("top.qcow2")), Does.Not.Contain("depth=0"));
            AssertClean(PathOf("base.qcow2"), PathOf("top.qcow2"));
        });
    }

    [Test]
    public void Commit_KeepOverlay_OverlayUnchangedBaseAsQemuImg()
    {
        QemuImage("base.qcow2", "cluster_size=65536", "2M", "write -P 0x11 0 1M");
        Overlay("top.qcow2", "base.qcow2", "qcow2", ioCommands: ["write -P 0x22 512k 1M"]);
        MakeTwins("base.qcow2", "top.qcow2");
        string topBefore = Checksum.Sha256OfFile(PathOf("top.qcow2"));

        var ours = CliHarness.Run("commit", "-d", "-q", PathOf("top.qcow2"));
        QemuTools.Ok("qemu-img", "commit", "-d", "-q", Twin("top.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(ours, Is.EqualTo((0, "", "")), "-q prints nothing");
            Assert.That(Checksum.Sha256OfFile(PathOf("top.qcow2")), Is.EqualTo(topBefore));
            AssertSameContent(PathOf("base.qcow2"), Twin("base.qcow2"));
            AssertSameContent(PathOf("top.qcow2"), Twin("top.qcow2"));
            AssertClean(PathOf("base.qcow2"), PathOf("top.qcow2"));
        });
    }

    [Test]
    public void Commit_IntoRawBase_RawFileAsQemuImgWritesIt()
    {
        File.WriteAllBytes(PathOf("base.raw"), Enumerable.Range(0, 2 << 20).Select(i => (byte)(i / 4096)).ToArray());
        Overlay("top.qcow2", "base.raw", "raw", ioCommands: ["write -P 0x22 4k 68k", "write -z 1M 64k", "write -z 1536k 512"]);
        MakeTwins("base.raw", "top.qcow2");

        var ours = CliHarness.Run("commit", PathOf("top.qcow2"));
        QemuTools.Ok("qemu-img", "commit", Twin("top.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(ours.Code, Is.Zero, ours.Stderr);
            Assert.That(File.ReadAllBytes(PathOf("base.raw")), Is.EqualTo(File.ReadAllBytes(Twin("base.raw"))), "the raw base byte for byte as qemu-img leaves it");
            AssertSameContent(PathOf("top.qcow2"), Twin("top.qcow2"));
            AssertClean(PathOf("top.qcow2"));
        });
    }

    /// <summary>
    /// Extended L2: only the subclusters the overlay allocates are written into BASE, and zero subclusters/clusters
    /// become zero subclusters/clusters there. QEMU 7.2 copies whole 64 KiB chunks (its mirror job's granularity), so
    /// its BASE has whole data clusters where ours has the overlay's subclusters; the content is the same.
    /// </summary>
    [Test]
    public void Commit_ExtendedL2OverlayWithZeroSubclusters_OnlyTheOverlaysSubclustersLandInBase()
    {
        QemuImage("base.qcow2", "extended_l2=on,cluster_size=65536", "1M", "write -P 0x09 256k 64k");
        Overlay("top.qcow2", "base.qcow2", "qcow2", "extended_l2=on,cluster_size=65536", null,
            "write -P 1 4k 4k", "write -z 64k 64k", "write -z 136k 8k", "write -P 3 200k 2k", "write -z 260k 4k");
        MakeTwins("base.qcow2", "top.qcow2");

        var ours = CliHarness.Run("commit", PathOf("top.qcow2"));
        QemuTools.Ok("qemu-img", "commit", Twin("top.qcow2"));
        var map = QemuTools.Map(PathOf("base.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(ours.Code, Is.Zero, ours.Stderr);
            AssertSameContent(PathOf("base.qcow2"), Twin("base.qcow2"));
            AssertSameContent(PathOf("top.qcow2"), Twin("top.qcow2"));
            AssertClean(PathOf("base.qcow2"), PathOf("top.qcow2"));
            Assert.That(map.Where(e => e.Data).Select(e => (e.Start, e.Length)), Is.EqualTo(new[] { (4096L, 4096L), (204800L, 2048L), (262144L, 4096L), (270336L, 57344L) }),
                "data only where the overlay (4k at 4k, 2k at 200k) or BASE itself had it");
            Assert.That(map.Where(e => e.Present && e.Zero).Select(e => (e.Start, e.Length)), Is.EqualTo(new[] { (65536L, 65536L), (139264L, 8192L), (266240L, 4096L) }),
                "the zero cluster and the zero subclusters");
            Assert.That(map.Single(e => e.Start == 65536).Offset, Is.Null, "a whole zero cluster is unmapped, as in qemu-img's BASE");
            Assert.That(Shape(PathOf("top.qcow2")), Does.Not.Contain("depth=0"), "the overlay emptied");
        });
    }

    public static IEnumerable<TestCaseData> Refusals()
    {
        yield return new TestCaseData("no backing", new[] { "@base.qcow2" }).SetArgDisplayNames("image without backing file");
        yield return new TestCaseData("base not in chain", new[] { "-b", "nothere.qcow2", "@top.qcow2" }).SetArgDisplayNames("BASE not in the chain");
        yield return new TestCaseData("base is top", new[] { "-b", "top.qcow2", "@top.qcow2" }).SetArgDisplayNames("BASE is the image itself");
        yield return new TestCaseData("bad cache", new[] { "-t", "bogus", "@top.qcow2" }).SetArgDisplayNames("bad cache mode");
        yield return new TestCaseData("two images", new[] { "@top.qcow2", "@base.qcow2" }).SetArgDisplayNames("two image names");
    }

    [TestCaseSource(nameof(Refusals))]
    public void Commit_Refused_QemuImgsExitCodeAndMessageNothingChanged(string what, string[] arguments)
    {
        QemuImage("base.qcow2", "cluster_size=65536", "1M", "write -P 0x11 0 64k");
        Overlay("top.qcow2", "base.qcow2", "qcow2", ioCommands: ["write -P 0x22 0 64k"]);
        MakeTwins("base.qcow2", "top.qcow2");
        var before = new[] { "base.qcow2", "top.qcow2" }.Select(n => Checksum.Sha256OfFile(PathOf(n))).ToList();

        // "@name" is a file of the test directory (of twin/ for qemu-img); anything else is passed as it is.
        var ours = CliHarness.Run(["commit", .. arguments.Select(a => a.StartsWith('@') ? PathOf(a[1..]) : a)]);
        var qemu = QemuTools.Run("qemu-img", ["commit", .. arguments.Select(a => a.StartsWith('@') ? Twin(a[1..]) : a)]);

        Assert.Multiple(() =>
        {
            Assert.That(qemu.Code, Is.EqualTo(1), $"{what}: the oracle refuses it");
            Assert.That(ours.Code, Is.EqualTo(qemu.Code));
            Assert.That(ours.Stderr, Is.EqualTo($"qcow2mount: {(what == "two images" ? "commit: " : "")}{QemuError(qemu.Stderr)}\n"));
            Assert.That(ours.Stdout, Is.Empty);
            Assert.That(new[] { "base.qcow2", "top.qcow2" }.Select(n => Checksum.Sha256OfFile(PathOf(n))), Is.EqualTo(before));
        });
    }

    [TestCase("-r", "1M")]
    [TestCase("--object", "secret,id=s0,data=x")]
    [TestCase("--image-opts", null)]
    public void Commit_UnsupportedQemuImgOption_OneLineUsageErrorNamingIt(string option, string? value)
    {
        var ours = CliHarness.Run(value is null ? ["commit", option, "top.qcow2"] : ["commit", option, value, "top.qcow2"]);
        Assert.That(ours, Is.EqualTo((1, "", $"qcow2mount: commit: option {option} is not supported\n")));
    }

    public static IEnumerable<TestCaseData> BrokenChains()
    {
        yield return new TestCaseData("missing").SetArgDisplayNames("backing file missing");
        yield return new TestCaseData("directory").SetArgDisplayNames("backing file is a directory");
        yield return new TestCaseData("loop").SetArgDisplayNames("backing chain loops");
    }

    [TestCaseSource(nameof(BrokenChains))]
    public void Commit_MissingOrHostileBackingFile_OneLineExitOneNoFileChanged(string kind)
    {
        QemuImage("base.qcow2", "cluster_size=65536", "1M", "write -P 0x11 0 64k");
        Overlay("mid.qcow2", "base.qcow2", "qcow2", ioCommands: ["write -P 0x22 0 64k"]);
        Overlay("top.qcow2", "mid.qcow2", "qcow2", ioCommands: ["write -P 0x33 0 64k"]);
        switch (kind)
        {
            case "missing":
                File.Delete(PathOf("base.qcow2"));
                break;
            case "directory":
                File.Delete(PathOf("base.qcow2"));
                Directory.CreateDirectory(PathOf("base.qcow2"));
                break;
            default:
                QemuTools.Ok("qemu-img", "rebase", "-u", "-b", "top.qcow2", "-F", "qcow2", PathOf("base.qcow2"));
                break;
        }

        var files = new[] { "mid.qcow2", "top.qcow2" }.Concat(kind == "loop" ? ["base.qcow2"] : []).ToArray();
        var before = files.Select(n => Checksum.Sha256OfFile(PathOf(n))).ToList();
        var ours = CliHarness.Run("commit", PathOf("top.qcow2"));
        var qemu = QemuTools.Run("qemu-img", "commit", PathOf("top.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(qemu.Code, Is.EqualTo(1), "qemu-img refuses it too");
            Assert.That(ours.Code, Is.EqualTo(1));
            Assert.That(ours.Stderr, Does.StartWith("qcow2mount: ").And.EndWith("\n").And.Not.Contain("   at "));
            Assert.That(ours.Stderr.Count(c => c == '\n'), Is.EqualTo(1));
            Assert.That(files.Select(n => Checksum.Sha256OfFile(PathOf(n))), Is.EqualTo(before));
        });
    }

    /// <summary>
    /// Regression: an intermediate layer whose L2 entry points past the end of its file failed the commit only when the
    /// copy reached it, after BASE had grown to the top's size and taken the top's first megabyte. Every mapping is now
    /// walked first, before BASE grows.
    /// </summary>
    [Test]
    public void Commit_IntermediateWithL2EntryPastItsEnd_OneLineExitOneBaseUnchanged()
    {
        QemuImage("base.qcow2", "cluster_size=65536", "1M");
        Overlay("mid.qcow2", "base.qcow2", "qcow2", size: "4M", ioCommands: ["write -P 0x22 2M 64k"]);
        Overlay("top.qcow2", "mid.qcow2", "qcow2", size: "4M", ioCommands: ["write -P 0x33 0 1M"]);
        // qemu-img's layout: L2 table at 0x40000; guest cluster 32 (2 MiB) → entry 32. Point it 1 GiB into the file.
        using (var f = File.OpenHandle(PathOf("mid.qcow2"), FileMode.Open, FileAccess.ReadWrite))
        {
            var entry = new byte[8];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(entry, 0x8000000000000000UL | (1UL << 30));
            RandomAccess.Write(f, entry, 0x40000 + (32 * 8));
        }

        var files = new[] { "base.qcow2", "mid.qcow2", "top.qcow2" };
        var before = files.Select(n => Checksum.Sha256OfFile(PathOf(n))).ToList();
        var ours = CliHarness.Run("commit", "-b", "base.qcow2", PathOf("top.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(ours.Code, Is.EqualTo(1));
            Assert.That(ours.Stderr, Does.StartWith("qcow2mount: ").And.EndWith("\n").And.Not.Contain("   at "));
            Assert.That(ours.Stderr.Count(c => c == '\n'), Is.EqualTo(1));
            Assert.That(files.Select(n => Checksum.Sha256OfFile(PathOf(n))), Is.EqualTo(before), "no file changed");
        });
    }

    [TestCase("top.qcow2")]
    [TestCase("base.qcow2")]
    public void Commit_ImageHeldByQemuIo_InUseErrorNothingChanged(string held)
    {
        QemuImage("base.qcow2", "cluster_size=65536", "1M", "write -P 0x11 0 64k");
        Overlay("top.qcow2", "base.qcow2", "qcow2", ioCommands: ["write -P 0x22 0 64k"]);
        var before = new[] { "base.qcow2", "top.qcow2" }.Select(n => Checksum.Sha256OfFile(PathOf(n))).ToList();
        (int Code, string Stdout, string Stderr) ours;
        using (new QemuIoHolder(PathOf(held), "qcow2"))
        {
            ours = CliHarness.Run("commit", PathOf("top.qcow2"));
        }

        Assert.Multiple(() =>
        {
            Assert.That(ours.Code, Is.EqualTo(1));
            Assert.That(ours.Stderr, Does.StartWith("qcow2mount: ").And.Contain("image is in use by another process").And.EndWith("\n"));
            Assert.That(ours.Stderr.Count(c => c == '\n'), Is.EqualTo(1));
            Assert.That(new[] { "base.qcow2", "top.qcow2" }.Select(n => Checksum.Sha256OfFile(PathOf(n))), Is.EqualTo(before));
        });
    }
}
