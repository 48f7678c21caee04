using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Cli.Tests.Commands;

/// <summary>
/// The tools never destroy an image they must keep: create and convert refuse a target in use (QEMU's lock, taken
/// before truncating) or belonging to the source (same inode), and a *.qcow2 without the qcow2 magic is never
/// opened as a raw disk unless -f raw says so. Every refusal is one line and leaves the files byte for byte unchanged.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class ImageSafetyTests : CommandTestBase
{
    /// <summary>top.qcow2 over base.raw (64 KiB of 0xaa), as in the bug report.</summary>
    private (string Top, string Base) RawBackedChain()
    {
        string baseQcow = QemuImage("base.qcow2", "cluster_size=65536", "1M", "write -P 0xaa 0 64k");
        string baseRaw = PathOf("base.raw");
        QemuTools.Ok("qemu-img", "convert", "-O", "raw", baseQcow, baseRaw);
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", PathOf("top.qcow2"));
        return (PathOf("top.qcow2"), baseRaw);
    }

    private static void AssertOneLine(string stderr, string contains) =>
        Assert.That(stderr, Does.StartWith("qcow2mount: ").And.Contain(contains).And.EndWith("\n").And.Not.Contain("   at "));

    /// <summary>Regression (issue 14, item 1): this exited 0 and left base.raw zeroed; qemu-img refuses it.</summary>
    [TestCase("raw")]
    [TestCase("qcow2")]
    public void Convert_TargetIsTheSourcesBackingFile_ExitOneBaseUnchanged(string format)
    {
        var (top, baseRaw) = RawBackedChain();
        string before = Checksum.Sha256OfFile(baseRaw);

        var (code, _, stderr) = CliHarness.Run("convert", "-O", format, top, baseRaw);
        var qemu = QemuTools.Run("qemu-img", "convert", "-O", format, top, baseRaw);

        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(1));
            AssertOneLine(stderr, $"convert: {baseRaw}: the conversion target is a backing file of the source; refusing to overwrite it");
            Assert.That(stderr.Count(c => c == '\n'), Is.EqualTo(1));
            Assert.That(qemu.Code, Is.Not.Zero, "qemu-img refuses it as well");
            Assert.That(Checksum.Sha256OfFile(baseRaw), Is.EqualTo(before));
        });
    }

    [Test]
    public void Convert_TargetIsASymlinkToTheSource_ExitOneUnchanged()
    {
        var (top, _) = RawBackedChain();
        string link = File.CreateSymbolicLink(PathOf("alias.qcow2"), top).FullName;
        string before = Checksum.Sha256OfFile(top);

        var (code, _, stderr) = CliHarness.Run("convert", "-O", "raw", top, link);

        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(1));
            AssertOneLine(stderr, $"{link}: the conversion target is the source image ({top}, the same file)");
            Assert.That(Checksum.Sha256OfFile(top), Is.EqualTo(before));
        });
    }

    [Test]
    public void Create_ImageIsItsOwnBackingFileViaHardLink_ExitOneUnchanged()
    {
        string image = QemuImage("disk.qcow2", "cluster_size=65536", "1M", "write -P 0x11 0 64k");
        QemuTools.Ok("ln", image, PathOf("other-name.qcow2"));
        string before = Checksum.Sha256OfFile(image);

        var (code, _, stderr) = CliHarness.Run("create", "-q", "-b", "other-name.qcow2", "-F", "qcow2", image);

        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(1));
            AssertOneLine(stderr, $"{image}: the image to create is its own backing file");
            Assert.That(Checksum.Sha256OfFile(image), Is.EqualTo(before));
        });
    }

    /// <summary>Regression (issue 14, item 1): create truncated an image a running qemu-io held.</summary>
    [TestCase("qcow2", "qcow2")]
    [TestCase("raw", "raw")]
    [TestCase("raw", "qcow2")]
    public void Create_OverImageHeldByQemuIo_ExitTwoUnchanged(string format, string heldAs)
    {
        string image = heldAs == "qcow2" ? QemuImage("busy.img", "cluster_size=65536", "1M", "write -P 0x22 0 64k") : PathOf("busy.img");
        if (heldAs == "raw")
        {
            File.WriteAllBytes(image, Enumerable.Repeat((byte)0x22, 1 << 20).ToArray());
        }

        string before = Checksum.Sha256OfFile(image);
        int code;
        string stderr;
        using (new QemuIoHolder(image, heldAs))
        {
            (code, _, stderr) = CliHarness.Run("create", "-q", "-f", format, image, "2M");
        }

        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(2));
            AssertOneLine(stderr, $"{image}: image is in use by another process (failed to get ");
            Assert.That(Checksum.Sha256OfFile(image), Is.EqualTo(before));
        });
    }

    /// <summary>Regression (issue 14, item 1): the lock error came only after the target had been re-created.</summary>
    [Test]
    public void Convert_Qcow2TargetHeldByQemuIo_ExitTwoUnchanged()
    {
        var (top, _) = RawBackedChain();
        string target = QemuImage("busy.qcow2", "cluster_size=65536", "1M", "write -P 0x33 0 64k");
        string before = Checksum.Sha256OfFile(target);
        int code;
        string stderr;
        using (new QemuIoHolder(target, "qcow2"))
        {
            (code, _, stderr) = CliHarness.Run("convert", "-O", "qcow2", top, target);
        }

        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(2));
            AssertOneLine(stderr, "image is in use by another process");
            Assert.That(Checksum.Sha256OfFile(target), Is.EqualTo(before));
        });
    }

    /// <summary>Regression: bench -w -U wrote into an image in use without taking the lock (qemu-img refuses -U with writes).</summary>
    [Test]
    public void Bench_WriteWithForceShareOnImageInUse_ExitOneUnchanged()
    {
        string image = PathOf("busy.raw");
        File.WriteAllBytes(image, Enumerable.Repeat((byte)0x22, 1 << 20).ToArray());
        string before = Checksum.Sha256OfFile(image);
        int code;
        string stderr;
        using (new QemuIoHolder(image, "raw"))
        {
            (code, _, stderr) = CliHarness.Run("bench", "-w", "-U", "-c", "1", "--pattern=90", "-f", "raw", image);
        }

        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(1));
            AssertOneLine(stderr, "bench: force-share (-U) can only be used with read-only images");
            Assert.That(Checksum.Sha256OfFile(image), Is.EqualTo(before));
        });
    }

    /// <summary>
    /// Regression (issue 14, item 14): a *.qcow2 without the qcow2 magic was opened as a raw disk, read-write by
    /// resize and bench -w. Every tool now refuses it in one line (naming -f raw), and leaves it unchanged.
    /// </summary>
    [TestCase("info")]
    [TestCase("map")]
    [TestCase("check")]
    [TestCase("resize", "+1M")]
    [TestCase("bench", "-w", "-c", "1")]
    [TestCase("convert", "OUT")]
    public void Tools_Qcow2NameWithoutMagic_RefusedOneLineUnchanged(string verb, params string[] rest)
    {
        string image = PathOf("broken.qcow2");
        var bytes = new byte[1 << 20];
        new Random(5).NextBytes(bytes);
        bytes[0] = 0xEB;
        File.WriteAllBytes(image, bytes);
        string[] tail = rest.Select(r => r == "OUT" ? PathOf("out.raw") : r).ToArray();
        string[] args = verb == "bench" ? [verb, .. tail, image] : [verb, image, .. tail];

        var (code, _, stderr) = CliHarness.Run(args);

        Assert.Multiple(() =>
        {
            Assert.That(code, Is.Not.Zero);
            AssertOneLine(stderr, $"{image}: not a qcow2 image");
            Assert.That(stderr, Does.Contain("-f raw"));
            Assert.That(File.ReadAllBytes(image), Is.EqualTo(bytes));
            Assert.That(File.Exists(PathOf("out.raw")), Is.False);
        });
    }

    [Test]
    public void Info_Qcow2NameWithoutMagicFormatRaw_Described()
    {
        string image = PathOf("broken.qcow2");
        File.WriteAllBytes(image, new byte[4096]);

        var (code, stdout, _) = CliHarness.Run("info", "-f", "raw", image);

        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(0));
            Assert.That(stdout, Does.Contain("file format: raw"));
        });
    }
}
