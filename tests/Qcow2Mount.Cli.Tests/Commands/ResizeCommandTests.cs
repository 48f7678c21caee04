using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Cli.Tests.Commands;

/// <summary><c>qcow2mount resize</c> refusals: one line on stderr, the exit code, and the image left as it was.</summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class ResizeCommandTests
{
    [Test]
    public void Resize_V2ImageWithSnapshots_OneLineExit2ImageUntouched()
    {
        using var dir = new TempDir("resize-v2");
        string image = dir.File("v2.qcow2");
        QemuTools.Create(image, 4 << 20, new Dictionary<string, string> { ["compat"] = "0.10" });
        QemuTools.QemuIo(image, "write -P 1 0 1M");
        QemuTools.CreateSnapshot(image, "s");
        byte[] before = File.ReadAllBytes(image);

        var result = CliHarness.Run("resize", image, "8M");

        Assert.Multiple(() =>
        {
            Assert.That(result.Code, Is.EqualTo(2));
            Assert.That(result.Stderr, Is.EqualTo($"qcow2mount: {image}: Can't resize a v2 image which has snapshots\n"));
            Assert.That(result.Stdout, Is.Empty);
            Assert.That(File.ReadAllBytes(image), Is.EqualTo(before));
        });
    }
}
