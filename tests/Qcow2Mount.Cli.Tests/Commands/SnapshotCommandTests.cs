using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Cli.Tests.Commands;

/// <summary><c>qcow2mount snapshot</c> against <c>qemu-img snapshot</c> on the same images: output, messages, exit codes.</summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class SnapshotCommandTests
{
    [Test]
    public void List_SnapshotsByUsAndQemu_SameTextAsQemuImg()
    {
        using var dir = new TempDir("snap-list");
        string image = dir.File("x.qcow2");
        QemuTools.Create(image, 8 << 20);
        QemuTools.QemuIo(image, "write -P 1 0 1M");
        Assert.That(CliHarness.Run("snapshot", "-c", "ours", image).Code, Is.Zero);
        QemuTools.CreateSnapshot(image, "a name of twenty chars");
        Assert.That(CliHarness.Run("snapshot", "-q", "-c", "", image).Code, Is.Zero);
        QemuTools.CreateSnapshot(image, "seventeen chars!!");

        string qemu = QemuTools.Ok("qemu-img", "snapshot", "-l", image);
        var ours = CliHarness.Run("snapshot", "-l", image);
        var quiet = CliHarness.Run("snapshot", "-l", "-q", "-U", image);
        Assert.Multiple(() =>
        {
            Assert.That(qemu, Does.Contain("ours").And.Contain("\n3    "), "the oracle lists all four");
            Assert.That(ours.Code, Is.Zero);
            Assert.That(ours.Stdout, Is.EqualTo(qemu));
            Assert.That(quiet.Stdout, Is.EqualTo(qemu), "qemu-img prints the list even with -q");
        });
    }

    [Test]
    public void List_NoSnapshots_PrintsNothingAsQemuImg()
    {
        using var dir = new TempDir("snap-empty");
        string image = dir.File("x.qcow2");
        QemuTools.Create(image, 1 << 20);
        var ours = CliHarness.Run("snapshot", "-l", image);
        Assert.Multiple(() =>
        {
            Assert.That(ours.Code, Is.Zero);
            Assert.That(ours.Stdout, Is.EqualTo(QemuTools.Ok("qemu-img", "snapshot", "-l", image)).And.Empty);
        });
    }

    public static IEnumerable<TestCaseData> Refusals()
    {
        // (arguments before the image, the message after "qemu-img: " / "qcow2mount: ", or null to compare codes only)
        yield return new TestCaseData(new[] { "-a", "nope" }, "Could not apply snapshot 'nope': Failed to load snapshot: No such file or directory").SetArgDisplayNames("apply unknown");
        yield return new TestCaseData(new[] { "-d", "nope" }, "Could not delete snapshot 'nope': snapshot not found").SetArgDisplayNames("delete unknown");
        yield return new TestCaseData(new[] { "-d", "1" }, "Could not delete snapshot '1': snapshot not found").SetArgDisplayNames("delete by ID");
        yield return new TestCaseData(new[] { "-l", "-c", "x" }, null).SetArgDisplayNames("mixed actions");
        yield return new TestCaseData(new[] { "-d", "s", "-d", "s" }, null).SetArgDisplayNames("two deletes");
        yield return new TestCaseData(new[] { "-U", "-c", "x" }, null).SetArgDisplayNames("force-share with create");
        yield return new TestCaseData(new[] { "--image-opts", "-l" }, null).SetArgDisplayNames("image-opts");
    }

    [TestCaseSource(nameof(Refusals))]
    public void Refusal_SameExitCodeAndMessageAsQemuImgImageUnchanged(string[] arguments, string? message)
    {
        using var dir = new TempDir("snap-refuse");
        string image = dir.File("x.qcow2");
        QemuTools.Create(image, 1 << 20);
        QemuTools.CreateSnapshot(image, "s");
        byte[] bytes = File.ReadAllBytes(image);

        var qemu = QemuTools.Run("qemu-img", ["snapshot", .. arguments, image]);
        var ours = CliHarness.Run(["snapshot", .. arguments, image]);
        Assert.Multiple(() =>
        {
            Assert.That(qemu.Code, Is.EqualTo(1), qemu.Stderr);
            Assert.That(ours.Code, Is.EqualTo(qemu.Code), ours.Stderr);
            Assert.That(ours.Stderr.TrimEnd('\n'), Does.Not.Contain('\n'), "one line");
            Assert.That(File.ReadAllBytes(image), Is.EqualTo(bytes));
            if (message is not null)
            {
                Assert.That(qemu.Stderr, Is.EqualTo($"qemu-img: {message}\n"));
                Assert.That(ours.Stderr, Is.EqualTo($"qcow2mount: {message}\n"));
            }
        });
    }

    [Test]
    public void Create_ImageHeldByQemuIo_Exit1LikeQemuImgImageUnchanged()
    {
        using var dir = new TempDir("snap-lock");
        string image = dir.File("x.qcow2");
        QemuTools.Create(image, 1 << 20);
        byte[] bytes = File.ReadAllBytes(image);
        (int Code, string Stdout, string Stderr) ours, qemu, list;
        using (new QemuIoHolder(image, "qcow2"))
        {
            qemu = QemuTools.Run("qemu-img", "snapshot", "-c", "s", image);
            ours = CliHarness.Run("snapshot", "-c", "s", image);
            list = CliHarness.Run("snapshot", "-l", "-U", image);
        }

        Assert.Multiple(() =>
        {
            Assert.That(qemu.Code, Is.EqualTo(1));
            Assert.That(ours.Code, Is.EqualTo(1));
            Assert.That(ours.Stderr, Does.Contain("in use by another process").And.Contain("\"write\" lock"));
            Assert.That(list.Code, Is.Zero, "-U lists a held image");
            Assert.That(File.ReadAllBytes(image), Is.EqualTo(bytes));
        });
    }

    [Test]
    public void CreateApplyDelete_ThroughCli_QemuSeesEachStep()
    {
        using var dir = new TempDir("snap-cli");
        string image = dir.File("x.qcow2");
        QemuTools.Create(image, 4 << 20);
        QemuTools.QemuIo(image, "write -P 5 0 64k");
        Assert.That(CliHarness.Run("snapshot", "-c", "s", image), Is.EqualTo((0, "", "")));
        QemuTools.QemuIo(image, "write -P 6 0 64k");
        Assert.That(CliHarness.Run("snapshot", "-a", "s", image), Is.EqualTo((0, "", "")));
        QemuTools.QemuIo(image, "read -P 5 0 64k");
        Assert.That(CliHarness.Run("snapshot", "-d", "s", image), Is.EqualTo((0, "", "")));
        Assert.Multiple(() =>
        {
            Assert.That(QemuTools.Check(image).IsClean, Is.True);
            Assert.That(QemuTools.Ok("qemu-img", "snapshot", "-l", image), Is.Empty);
        });
    }
}
