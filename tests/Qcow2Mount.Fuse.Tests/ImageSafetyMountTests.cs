using Qcow2Mount.Fuse.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>Images a mount uses are safe from the tools: create and convert take QEMU's lock before truncating.</summary>
public sealed class ImageSafetyMountTests : ScratchFixture
{
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
}
