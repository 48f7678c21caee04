using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Cli.Tests.Commands;

/// <summary>
/// <c>qcow2mount rebase</c> against <c>qemu-img rebase</c> on a twin of the same chain: the rebased image compares
/// identical to the twin's (and to itself before), <c>qemu-img check</c> is clean, the allocation shape is qemu-img's
/// (with extended L2 only the differing subclusters are allocated), the header names the new backing file, and the
/// error cases give qemu-img's exit codes and messages without changing any file.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class RebaseCommandTests : ChainCommandTestBase
{
    [TestCase("cluster_size=65536")]
    [TestCase("extended_l2=on,cluster_size=65536")]
    public void Rebase_SafeOntoDifferentBacking_SameImageAsQemuImg(string options)
    {
        QemuImage("old.qcow2", "cluster_size=65536", "2M", "write -P 1 0 1M", "write -P 2 1536k 256k");
        QemuImage("new.qcow2", "cluster_size=65536", "2M", "write -P 1 0 512k", "write -P 1 516k 4k", "write -P 5 1600k 64k");
        Overlay("top.qcow2", "old.qcow2", "qcow2", options, null, "write -P 7 600k 64k", "write -z 1536k 32k");
        MakeTwins("old.qcow2", "new.qcow2", "top.qcow2");
        QemuTools.ConvertToRaw(PathOf("top.qcow2"), PathOf("before.raw"));

        var ours = CliHarness.Run("rebase", "-b", "new.qcow2", "-F", "qcow2", PathOf("top.qcow2"));
        QemuTools.Ok("qemu-img", "rebase", "-b", "new.qcow2", "-F", "qcow2", Twin("top.qcow2"));
        var info = QemuTools.Info(PathOf("top.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(ours, Is.EqualTo((0, "", "")));
            Assert.That(info.GetProperty("backing-filename").GetString(), Is.EqualTo("new.qcow2"));
            Assert.That(info.GetProperty("backing-filename-format").GetString(), Is.EqualTo("qcow2"));
            AssertSameContent(PathOf("top.qcow2"), Twin("top.qcow2"));
            Assert.That(QemuTools.Compare(PathOf("top.qcow2"), PathOf("before.raw")), Is.True, "the guest sees what it saw before");
            Assert.That(Shape(PathOf("top.qcow2")), Is.EqualTo(Shape(Twin("top.qcow2"))), "the same ranges allocated as qemu-img allocates");
            AssertClean(PathOf("top.qcow2"), PathOf("old.qcow2"), PathOf("new.qcow2"));
        });
    }

    [Test]
    public void Rebase_ExtendedL2FourKiBDifference_AllocatesOnlyThoseTwoSubclusters()
    {
        QemuImage("old.qcow2", "cluster_size=65536", "1M", "write -P 1 0 1M");
        QemuImage("new.qcow2", "cluster_size=65536", "1M", "write -P 1 0 1M", "write -P 9 8k 4k");
        Overlay("top.qcow2", "old.qcow2", "qcow2", "extended_l2=on,cluster_size=65536");
        MakeTwins("old.qcow2", "new.qcow2", "top.qcow2");

        var ours = CliHarness.Run("rebase", "-b", "new.qcow2", "-F", "qcow2", PathOf("top.qcow2"));
        QemuTools.Ok("qemu-img", "rebase", "-b", "new.qcow2", "-F", "qcow2", Twin("top.qcow2"));
        var own = QemuTools.Map(PathOf("top.qcow2")).Where(e => e.Depth == 0).ToList();

        Assert.Multiple(() =>
        {
            Assert.That(ours.Code, Is.Zero, ours.Stderr);
            Assert.That(own.Select(e => (e.Start, e.Length, e.Data)), Is.EqualTo(new[] { (8192L, 4096L, true) }), "subclusters 4 and 5 of cluster 0, nothing else");
            Assert.That(Shape(PathOf("top.qcow2")), Is.EqualTo(Shape(Twin("top.qcow2"))));
            AssertSameContent(PathOf("top.qcow2"), Twin("top.qcow2"));
            AssertClean(PathOf("top.qcow2"));
        });
    }

    [TestCase("cluster_size=65536")]
    [TestCase("extended_l2=on,cluster_size=65536")]
    public void Rebase_OntoNoBackingFile_CopiesWhatTheOldChainProvides(string options)
    {
        QemuImage("base.qcow2", "cluster_size=65536", "2M", "write -P 1 0 256k", "write -P 2 1M 8k");
        Overlay("mid.qcow2", "base.qcow2", "qcow2", "cluster_size=65536", null, "write -P 3 128k 64k", "write -z 1M 4k");
        Overlay("top.qcow2", "mid.qcow2", "qcow2", options, null, "write -P 4 1500k 4k");
        MakeTwins("base.qcow2", "mid.qcow2", "top.qcow2");
        QemuTools.ConvertToRaw(PathOf("top.qcow2"), PathOf("before.raw"));

        var ours = CliHarness.Run("rebase", "-b", "", PathOf("top.qcow2"));
        QemuTools.Ok("qemu-img", "rebase", "-b", "", Twin("top.qcow2"));
        var info = QemuTools.Info(PathOf("top.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(ours, Is.EqualTo((0, "", "")));
            Assert.That(info.TryGetProperty("backing-filename", out _), Is.False, "no backing file any more");
            Assert.That(QemuTools.Compare(PathOf("top.qcow2"), PathOf("before.raw")), Is.True);
            AssertSameContent(PathOf("top.qcow2"), Twin("top.qcow2"));
            Assert.That(Shape(PathOf("top.qcow2")), Is.EqualTo(Shape(Twin("top.qcow2"))));
            AssertClean(PathOf("top.qcow2"));
        });
    }

    /// <summary>top → mid → base rebased onto base: what mid provided is copied into top (mid can then go).</summary>
    [Test]
    public void Rebase_OntoTheBaseOfItsOwnChain_MiddleLayersDataCopied()
    {
        QemuImage("base.qcow2", "cluster_size=65536", "2M", "write -P 1 0 2M");
        Overlay("mid.qcow2", "base.qcow2", "qcow2", ioCommands: ["write -P 2 64k 128k", "write -z 1M 64k"]);
        Overlay("top.qcow2", "mid.qcow2", "qcow2", ioCommands: ["write -P 3 128k 64k"]);
        MakeTwins("base.qcow2", "mid.qcow2", "top.qcow2");
        QemuTools.ConvertToRaw(PathOf("top.qcow2"), PathOf("before.raw"));

        var ours = CliHarness.Run("rebase", "-b", "base.qcow2", "-F", "qcow2", PathOf("top.qcow2"));
        QemuTools.Ok("qemu-img", "rebase", "-b", "base.qcow2", "-F", "qcow2", Twin("top.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(ours, Is.EqualTo((0, "", "")));
            Assert.That(QemuTools.Compare(PathOf("top.qcow2"), PathOf("before.raw")), Is.True);
            AssertSameContent(PathOf("top.qcow2"), Twin("top.qcow2"));
            Assert.That(Shape(PathOf("top.qcow2")), Is.EqualTo(Shape(Twin("top.qcow2"))));
            AssertClean(PathOf("top.qcow2"), PathOf("mid.qcow2"), PathOf("base.qcow2"));
        });
    }

    [Test]
    public void Rebase_Unsafe_OnlyTheHeaderChangesAsQemuImgWritesIt()
    {
        QemuImage("old.qcow2", "cluster_size=65536", "1M", "write -P 1 0 1M");
        QemuImage("new.qcow2", "cluster_size=65536", "1M");
        Overlay("top.qcow2", "old.qcow2", "qcow2", ioCommands: ["write -P 2 64k 64k"]);
        MakeTwins("old.qcow2", "new.qcow2", "top.qcow2");
        byte[] before = File.ReadAllBytes(PathOf("top.qcow2"));

        var ours = CliHarness.Run("rebase", "-u", "-b", "new.qcow2", "-F", "qcow2", PathOf("top.qcow2"));
        QemuTools.Ok("qemu-img", "rebase", "-u", "-b", "new.qcow2", "-F", "qcow2", Twin("top.qcow2"));
        byte[] after = File.ReadAllBytes(PathOf("top.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(ours, Is.EqualTo((0, "", "")));
            Assert.That(after, Is.EqualTo(File.ReadAllBytes(Twin("top.qcow2"))), "byte for byte what qemu-img writes");
            Assert.That(after.AsSpan(65536).SequenceEqual(before.AsSpan(65536)), Is.True, "nothing past the header cluster changed");
            Assert.That(QemuTools.Info(PathOf("top.qcow2")).GetProperty("backing-filename").GetString(), Is.EqualTo("new.qcow2"));
            AssertClean(PathOf("top.qcow2"));
        });
    }

    [Test]
    public void Rebase_UnsafeWithoutBackingName_RemovesTheBackingFileAsQemuImg()
    {
        QemuImage("old.qcow2", "cluster_size=65536", "1M", "write -P 1 0 1M");
        Overlay("top.qcow2", "old.qcow2", "qcow2", ioCommands: ["write -P 2 64k 64k"]);
        MakeTwins("old.qcow2", "top.qcow2");

        var ours = CliHarness.Run("rebase", "-u", PathOf("top.qcow2"));
        QemuTools.Ok("qemu-img", "rebase", "-u", Twin("top.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(ours, Is.EqualTo((0, "", "")));
            Assert.That(File.ReadAllBytes(PathOf("top.qcow2")), Is.EqualTo(File.ReadAllBytes(Twin("top.qcow2"))));
        });
    }

    /// <summary>New backing shorter than the image (zeros past its end), old backing longer than the image.</summary>
    [TestCase("cluster_size=65536")]
    [TestCase("extended_l2=on,cluster_size=65536")]
    public void Rebase_DifferentSizes_ZerosPastTheShorterBackingAsQemuImg(string options)
    {
        QemuImage("old.qcow2", "cluster_size=65536", "4M", "write -P 1 0 4M");
        QemuImage("new.qcow2", "cluster_size=65536", "1M", "write -P 1 0 1M");
        Overlay("top.qcow2", "old.qcow2", "qcow2", options, "3M", "write -P 7 2M 4k");
        MakeTwins("old.qcow2", "new.qcow2", "top.qcow2");
        QemuTools.ConvertToRaw(PathOf("top.qcow2"), PathOf("before.raw"));

        var ours = CliHarness.Run("rebase", "-b", "new.qcow2", "-F", "qcow2", PathOf("top.qcow2"));
        QemuTools.Ok("qemu-img", "rebase", "-b", "new.qcow2", "-F", "qcow2", Twin("top.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(ours.Code, Is.Zero, ours.Stderr);
            Assert.That(QemuTools.Compare(PathOf("top.qcow2"), PathOf("before.raw")), Is.True);
            AssertSameContent(PathOf("top.qcow2"), Twin("top.qcow2"));
            Assert.That(Shape(PathOf("top.qcow2")), Is.EqualTo(Shape(Twin("top.qcow2"))));
            AssertClean(PathOf("top.qcow2"));
        });
    }

    public static IEnumerable<TestCaseData> Refusals()
    {
        yield return new TestCaseData("missing new", new[] { "-b", "nothere.qcow2", "-F", "qcow2", "@top.qcow2" }).SetArgDisplayNames("new backing file missing");
        yield return new TestCaseData("no format", new[] { "-b", "new.qcow2", "@top.qcow2" }).SetArgDisplayNames("no -F");
        yield return new TestCaseData("no format unsafe", new[] { "-u", "-b", "new.qcow2", "@top.qcow2" }).SetArgDisplayNames("no -F with -u");
        yield return new TestCaseData("no backing", new[] { "@top.qcow2" }).SetArgDisplayNames("neither -b nor -u");
        yield return new TestCaseData("raw", new[] { "-f", "raw", "-b", "", "@top.qcow2" }).SetArgDisplayNames("raw image");
        yield return new TestCaseData("itself", new[] { "-b", "top.qcow2", "-F", "qcow2", "@top.qcow2" }).SetArgDisplayNames("onto itself");
        yield return new TestCaseData("old missing", new[] { "-b", "new.qcow2", "-F", "qcow2", "@top.qcow2" }).SetArgDisplayNames("old backing file missing");
        yield return new TestCaseData("new directory", new[] { "-b", "dir", "-F", "qcow2", "@top.qcow2" }).SetArgDisplayNames("new backing file is a directory");
        yield return new TestCaseData("cache", new[] { "-t", "bogus", "-b", "", "@top.qcow2" }).SetArgDisplayNames("bad cache mode");
        yield return new TestCaseData("source cache", new[] { "-T", "bogus", "-b", "", "@top.qcow2" }).SetArgDisplayNames("bad source cache mode");
    }

    [TestCaseSource(nameof(Refusals))]
    public void Rebase_Refused_QemuImgsExitCodeNothingChanged(string what, string[] arguments)
    {
        QemuImage("old.qcow2", "cluster_size=65536", "1M", "write -P 1 0 1M");
        QemuImage("new.qcow2", "cluster_size=65536", "1M");
        Overlay("top.qcow2", "old.qcow2", "qcow2", ioCommands: ["write -P 2 64k 64k"]);
        MakeTwins("old.qcow2", "new.qcow2", "top.qcow2");
        Directory.CreateDirectory(PathOf("dir"));
        Directory.CreateDirectory(Twin("dir"));
        if (what == "old missing")
        {
            File.Move(PathOf("old.qcow2"), PathOf("gone.qcow2"));
            File.Move(Twin("old.qcow2"), Twin("gone.qcow2"));
        }

        string[] files = ["gone.qcow2", "old.qcow2", "new.qcow2", "top.qcow2"];
        var before = files.Where(n => File.Exists(PathOf(n))).Select(n => Checksum.Sha256OfFile(PathOf(n))).ToList();

        // "@name" is a file of the test directory (of twin/ for qemu-img); anything else is passed as it is.
        var ours = CliHarness.Run(["rebase", .. arguments.Select(a => a.StartsWith('@') ? PathOf(a[1..]) : a)]);
        var qemu = QemuTools.Run("qemu-img", ["rebase", .. arguments.Select(a => a.StartsWith('@') ? Twin(a[1..]) : a)]);

        Assert.Multiple(() =>
        {
            Assert.That(qemu.Code, Is.EqualTo(1), $"{what}: the oracle refuses it");
            Assert.That(ours.Code, Is.EqualTo(qemu.Code));
            Assert.That(ours.Stderr, Does.StartWith("qcow2mount: ").And.EndWith("\n").And.Not.Contain("   at "));
            Assert.That(ours.Stderr.Count(c => c == '\n'), Is.EqualTo(1), ours.Stderr);
            Assert.That(ours.Stdout, Is.Empty);
            Assert.That(files.Where(n => File.Exists(PathOf(n))).Select(n => Checksum.Sha256OfFile(PathOf(n))), Is.EqualTo(before));
        });
    }

    [TestCase("missing new", "Could not open new backing file 'nothere.qcow2': ")]
    [TestCase("no format", "Could not change the backing file to 'new.qcow2': backing format must be specified")]
    [TestCase("no backing", "rebase: Must specify backing file (-b) or use unsafe mode (-u)")]
    [TestCase("raw", "Could not change the backing file to '': Operation not supported")]
    public void Rebase_Refused_QemuImgsWords(string what, string expected)
    {
        QemuImage("old.qcow2", "cluster_size=65536", "1M");
        QemuImage("new.qcow2", "cluster_size=65536", "1M");
        Overlay("top.qcow2", "old.qcow2", "qcow2");
        string[] arguments = what switch
        {
            "missing new" => ["-b", "nothere.qcow2", "-F", "qcow2"],
            "no format" => ["-b", "new.qcow2"],
            "raw" => ["-f", "raw", "-b", ""],
            _ => [],
        };

        var ours = CliHarness.Run(["rebase", .. arguments, PathOf("top.qcow2")]);
        var qemu = QemuTools.Run("qemu-img", ["rebase", .. arguments, PathOf("top.qcow2")]);

        Assert.Multiple(() =>
        {
            Assert.That(ours.Stderr, Does.StartWith($"qcow2mount: {expected}"));
            Assert.That(qemu.Stderr, Does.Contain(expected.Replace("rebase: ", "", StringComparison.Ordinal)), "qemu-img's words");
        });
    }

    /// <summary>
    /// Regression: a backing file whose L2 entry points past the end of its file failed the rebase only when the copy
    /// reached it, after the image had taken the first megabyte. Every mapping is now walked first.
    /// </summary>
    [Test]
    public void Rebase_OldBackingWithL2EntryPastItsEnd_OneLineExitOneImageUnchanged()
    {
        QemuImage("old.qcow2", "cluster_size=65536", "4M", "write -P 0x11 0 1M", "write -P 0x22 2M 64k");
        Overlay("top.qcow2", "old.qcow2", "qcow2");
        // qemu-img's layout: L2 table at 0x40000; guest cluster 32 (2 MiB) → entry 32. Point it 1 GiB into the file.
        using (var f = File.OpenHandle(PathOf("old.qcow2"), FileMode.Open, FileAccess.ReadWrite))
        {
            var entry = new byte[8];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(entry, 0x8000000000000000UL | (1UL << 30));
            RandomAccess.Write(f, entry, 0x40000 + (32 * 8));
        }

        var files = new[] { "old.qcow2", "top.qcow2" };
        var before = files.Select(n => Checksum.Sha256OfFile(PathOf(n))).ToList();
        var ours = CliHarness.Run("rebase", "-b", "", PathOf("top.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(ours.Code, Is.EqualTo(1));
            Assert.That(ours.Stderr, Does.StartWith("qcow2mount: ").And.EndWith("\n").And.Not.Contain("   at "));
            Assert.That(ours.Stderr.Count(c => c == '\n'), Is.EqualTo(1));
            Assert.That(files.Select(n => Checksum.Sha256OfFile(PathOf(n))), Is.EqualTo(before), "no file changed");
        });
    }

    [TestCase("-U", null)]
    [TestCase("-c", null)]
    [TestCase("-o", "compression_type=zlib")]
    [TestCase("--object", "secret,id=s0,data=x")]
    [TestCase("--image-opts", null)]
    public void Rebase_UnsupportedQemuImgOption_OneLineUsageErrorNamingIt(string option, string? value)
    {
        var ours = CliHarness.Run(value is null ? ["rebase", option, "-b", "", "top.qcow2"] : ["rebase", option, value, "-b", "", "top.qcow2"]);
        Assert.That(ours, Is.EqualTo((1, "", $"qcow2mount: rebase: option {option} is not supported\n")));
    }

    [TestCase("top.qcow2")]
    [TestCase("new.qcow2")]
    public void Rebase_ImageHeldByQemuIo_InUseErrorNothingChanged(string held)
    {
        QemuImage("old.qcow2", "cluster_size=65536", "1M", "write -P 1 0 1M");
        QemuImage("new.qcow2", "cluster_size=65536", "1M");
        Overlay("top.qcow2", "old.qcow2", "qcow2");
        var before = new[] { "old.qcow2", "new.qcow2", "top.qcow2" }.Select(n => Checksum.Sha256OfFile(PathOf(n))).ToList();
        (int Code, string Stdout, string Stderr) ours;
        using (new QemuIoHolder(PathOf(held), "qcow2"))
        {
            ours = CliHarness.Run("rebase", "-b", "new.qcow2", "-F", "qcow2", PathOf("top.qcow2"));
        }

        Assert.Multiple(() =>
        {
            Assert.That(ours.Code, Is.EqualTo(1));
            Assert.That(ours.Stderr, Does.StartWith("qcow2mount: ").And.Contain("image is in use by another process").And.EndWith("\n"));
            Assert.That(ours.Stderr.Count(c => c == '\n'), Is.EqualTo(1));
            Assert.That(new[] { "old.qcow2", "new.qcow2", "top.qcow2" }.Select(n => Checksum.Sha256OfFile(PathOf(n))), Is.EqualTo(before));
        });
    }
}
