using Qcow2Mount.Fuse.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>
/// Images a mount uses are safe from the tools (create and convert take QEMU's lock before truncating), a probed raw
/// image keeps QEMU's first-sector protection through the mount (EPERM), a *.qcow2 without the magic is not mounted as
/// raw unless --format=raw says so, and one image given twice is a usage error, not "in use by another process".
/// </summary>
[Category(TestCategories.Mount)]
[Category(TestCategories.Slow)]
public sealed class ImageSafetyMountTests : ScratchFixture
{
    private static readonly byte[] Qcow2Header = [0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 3];

    /// <summary>Regression (issue 14, item 1): create truncated an image a read-write mount was serving.</summary>
    [TestCase("qcow2")]
    [TestCase("raw")]
    public void Create_OverImageOfAReadWriteMount_ExitTwoUnchanged(string format)
    {
        string image = format == "qcow2" ? Images.Qcow2(Scratch, "disk.qcow2", "1M", "write -P 0xab 0 64k") : Scratch.RawImage("disk.img", 1 << 20);
        string mnt = Scratch.NewDirectory("mnt");
        Cli.Mount(image, mnt);
        string before = Checksum.Sha256OfFile(image);

        var result = Cli.Run("create", "-q", "-f", format, image, "2M");

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
            Assert.That(result.StandardError.Trim(), Is.EqualTo($"qcow2mount: {image}: image is in use by another process (failed to get \"write\" lock)"));
            Assert.That(Checksum.Sha256OfFile(image), Is.EqualTo(before));
        });
    }

    [TestCase("raw")]
    [TestCase("qcow2")]
    public void Convert_IntoImageOfAReadWriteMount_ExitTwoUnchanged(string format)
    {
        string source = Images.Qcow2(Scratch, "src.qcow2", "1M", "write -P 0x11 0 1M");
        string image = Images.Qcow2(Scratch, "disk.qcow2", "1M", "write -P 0xab 0 64k");
        Cli.Mount(image, Scratch.NewDirectory("mnt"));
        string before = Checksum.Sha256OfFile(image);

        var result = Cli.Run("convert", "-O", format, source, image);

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
            Assert.That(result.StandardError, Does.Contain("image is in use by another process"));
            Assert.That(Checksum.Sha256OfFile(image), Is.EqualTo(before));
        });
    }

    /// <summary>
    /// Regression (issue 14, item 14): writing a qcow2 header into the first sector of a probed raw image through the
    /// mount succeeded, so the next probe would open the guest's bytes as a qcow2 image. It is EPERM now (qemu-io
    /// refuses the same write on a probed raw image); ordinary writes there still work.
    /// </summary>
    [Test]
    public void Mount_ProbedRaw_QcowHeaderIntoFirstSector_OperationNotPermitted()
    {
        string image = Scratch.RawImage("disk.img", 1 << 20, seed: null);
        string mnt = Scratch.NewDirectory("mnt");
        string header = Scratch.PathOf("header.bin"), bootSector = Scratch.PathOf("boot.bin");
        File.WriteAllBytes(header, Qcow2Header);
        File.WriteAllBytes(bootSector, [0xEB, 0x63, 0x90, .. Enumerable.Repeat((byte)0x5A, 507), 0x55, 0xAA]);
        Cli.Mount(image, mnt);
        string raw = Path.Combine(mnt, "disk.img.raw");

        var refused = ProcessRunner.Capture("dd", $"if={header}", $"of={raw}", "conv=notrunc,fsync", "status=none");
        var ordinary = ProcessRunner.Capture("dd", $"if={bootSector}", $"of={raw}", "conv=notrunc,fsync", "status=none");
        byte[] firstSector = File.ReadAllBytes(raw)[..512];
        Cli.Unmount(mnt);

        Assert.Multiple(() =>
        {
            Assert.That(refused.ExitCode, Is.Not.Zero);
            Assert.That(refused.StandardError, Does.Contain("Operation not permitted"));
            Assert.That(ordinary.ExitCode, Is.Zero, ordinary.ToString());
            Assert.That(firstSector, Is.EqualTo(File.ReadAllBytes(bootSector)));
            Assert.That(File.ReadAllBytes(image)[..512], Is.EqualTo(firstSector));
            Assert.That(QemuTools.Ok("qemu-img", "info", image), Does.Contain("file format: raw"));
        });
    }

    [TestCase("--format=raw")]
    [TestCase("-o", "format=raw")]
    public void Mount_FormatRaw_QcowHeaderIntoFirstSectorWritten(params string[] option)
    {
        string image = Scratch.RawImage("disk.img", 1 << 20, seed: null);
        string mnt = Scratch.NewDirectory("mnt");
        string header = Scratch.PathOf("header.bin");
        File.WriteAllBytes(header, Qcow2Header);
        Cli.Mount([.. option, image, mnt]);

        var written = ProcessRunner.Capture("dd", $"if={header}", $"of={Path.Combine(mnt, "disk.img.raw")}", "conv=notrunc,fsync", "status=none");
        Cli.Unmount(mnt);

        Assert.Multiple(() =>
        {
            Assert.That(written.ExitCode, Is.Zero, written.ToString());
            Assert.That(File.ReadAllBytes(image)[..8], Is.EqualTo(Qcow2Header));
        });
    }

    /// <summary>Regression (issue 14, item 14): a .qcow2 with a broken header was mounted read-write as a raw disk.</summary>
    [Test]
    public void Mount_Qcow2NameWithoutMagic_RefusedOneLineUnlessFormatRaw()
    {
        string image = Scratch.RawImage("broken.qcow2", 1 << 20);
        string mnt = Scratch.NewDirectory("mnt");
        string before = Checksum.Sha256OfFile(image);

        var refused = Cli.Run(image, mnt);
        Assert.Multiple(() =>
        {
            Assert.That(refused.ExitCode, Is.EqualTo(2), refused.ToString());
            Assert.That(refused.StandardError.Trim(), Does.StartWith($"qcow2mount: {image}: not a qcow2 image").And.Contain("--format=raw").And.Not.Contain("\n"));
            Assert.That(Scratch.MountsUnder(mnt), Is.Empty);
            Assert.That(Checksum.Sha256OfFile(image), Is.EqualTo(before));
        });

        Cli.Mount("--format", "raw", "-r", image, mnt);
        Assert.That(File.ReadAllBytes(Path.Combine(mnt, "broken.raw")), Is.EqualTo(File.ReadAllBytes(image)));
    }

    [Test]
    public void Mount_BadFormatName_UsageError()
    {
        string image = Scratch.RawImage("disk.img", 1 << 20);

        var result = Cli.Run("--format=vmdk", image, Scratch.NewDirectory("mnt"));

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(1));
            Assert.That(result.StandardError.Trim(), Is.EqualTo("qcow2mount: unknown image format 'vmdk' (--format qcow2 or raw)"));
        });
    }

    /// <summary>Regression (issue 14): the same image twice said "in use by another process".</summary>
    [TestCase("same")]
    [TestCase("symlink")]
    [TestCase("hardlink")]
    public void Mount_SameImageGivenTwice_UsageErrorNothingMounted(string how)
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "1M");
        string second = how switch
        {
            "same" => image,
            "symlink" => File.CreateSymbolicLink(Scratch.PathOf("alias.qcow2"), image).FullName,
            _ => Scratch.PathOf("hard.qcow2"),
        };
        if (how == "hardlink")
        {
            ProcessRunner.Output("ln", image, second);
        }

        string mnt = Scratch.NewDirectory("mnt");

        var result = Cli.Run(image, second, mnt);

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(1), result.ToString());
            Assert.That(result.StandardError.Trim(), Does.StartWith($"qcow2mount: {second}: image given twice").And.Not.Contain("in use").And.Not.Contain("\n"));
            Assert.That(Scratch.MountsUnder(mnt), Is.Empty);
        });
    }
}
