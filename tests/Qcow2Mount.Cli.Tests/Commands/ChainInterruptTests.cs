using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Cli.Tests.Commands;

/// <summary>
/// commit and rebase as real processes: Ctrl+C (a real SIGINT) in the middle of the copy stops them with status 130,
/// every image passes <c>qemu-img check</c> and the image reads as before (the overlay is emptied, and the header of a
/// rebased image rewritten, only after the copy is complete and flushed); -p draws qemu-img's progress line on a
/// terminal and nothing into a pipe.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class ChainInterruptTests : ChainCommandTestBase
{
    private const string Size = "256M";

    [Test]
    public void CtrlC_DuringCommit_Status130ImagesCleanOverlayReadsAsBefore()
    {
        QemuImage("base.qcow2", "cluster_size=65536", Size);
        Overlay("top.qcow2", "base.qcow2", "qcow2", ioCommands: [$"write -P 0x5a 0 {Size}"]);
        long baseLength = new FileInfo(PathOf("base.qcow2")).Length;

        // The copy is under way once BASE has grown.
        var (status, stdout, stderr) = Interrupt(["commit", PathOf("top.qcow2")], $"[ $(stat -c %s '{PathOf("base.qcow2")}') -gt {baseLength} ]");

        Assert.Multiple(() =>
        {
            Assert.That(status, Is.EqualTo("status 130\n"));
            Assert.That(stderr, Is.EqualTo("qcow2mount: commit: interrupted\n"), "the handler ran (not a default signal death)");
            Assert.That(stdout, Is.Empty, "no \"Image committed.\"");
            Assert.That(new FileInfo(PathOf("base.qcow2")).Length, Is.GreaterThan(baseLength), "interrupted in the middle of the copy");
            AssertClean(PathOf("base.qcow2"), PathOf("top.qcow2"));
            Assert.That(QemuTools.QemuIo(PathOf("top.qcow2"), $"read -P 0x5a 0 {Size}").StandardOutput, Does.Not.Contain("failed"), "the overlay still reads as before");
            Assert.That(Shape(PathOf("top.qcow2")), Does.Not.Contain("depth=1"), "the overlay was not emptied");
        });
    }

    [Test]
    public void CtrlC_DuringRebase_Status130ImageCleanStillOnOldBackingReadsAsBefore()
    {
        QemuImage("old.qcow2", "cluster_size=65536", Size, $"write -P 0x5a 0 {Size}");
        Overlay("top.qcow2", "old.qcow2", "qcow2", "extended_l2=on,cluster_size=65536");
        long topLength = new FileInfo(PathOf("top.qcow2")).Length;

        var (status, stdout, stderr) = Interrupt(["rebase", "-b", "", PathOf("top.qcow2")], $"[ $(stat -c %s '{PathOf("top.qcow2")}') -gt {topLength} ]");
        var info = QemuTools.Info(PathOf("top.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(status, Is.EqualTo("status 130\n"));
            Assert.That(stderr, Is.EqualTo("qcow2mount: rebase: interrupted\n"));
            Assert.That(stdout, Is.Empty);
            Assert.That(new FileInfo(PathOf("top.qcow2")).Length, Is.GreaterThan(topLength), "interrupted in the middle of the copy");
            Assert.That(info.GetProperty("backing-filename").GetString(), Is.EqualTo("old.qcow2"), "the header changes only after the copy");
            AssertClean(PathOf("top.qcow2"), PathOf("old.qcow2"));
            Assert.That(QemuTools.QemuIo(PathOf("top.qcow2"), $"read -P 0x5a 0 {Size}").StandardOutput, Does.Not.Contain("failed"), "the image still reads as before");
        });
    }

    [TestCase("commit", "Image committed.")]
    [TestCase("rebase", "")]
    public void Progress_OnATerminal_ShownAndEndsAt100(string verb, string verdict)
    {
        QemuImage("base.qcow2", "cluster_size=65536", "8M", "write -P 1 0 8M");
        Overlay("top.qcow2", "base.qcow2", "qcow2", ioCommands: ["write -P 2 0 4M"]);
        MakeTwins("base.qcow2", "top.qcow2");
        string arguments = verb == "commit" ? "commit -p" : "rebase -p -b ''";

        // script(1) gives the command a pseudo-terminal as stdout and keeps every byte it wrote in a file.
        ProcessRunner.Run("script", ["-qec", $"dotnet {Cli} {arguments} {PathOf("top.qcow2")}", PathOf("typescript")]);
        string onTerminal = File.ReadAllText(PathOf("typescript"));
        var redirected = ProcessRunner.Run("dotnet", verb == "commit" ? [Cli, "commit", "-p", Twin("top.qcow2")] : [Cli, "rebase", "-p", "-b", "", Twin("top.qcow2")]);
        string expected = verdict.Length == 0 ? "" : verdict + "\n";
        Assert.Multiple(() =>
        {
            // The terminal turns "\n" into "\r\n"; .NET may add terminal mode sequences around the output.
            Assert.That(onTerminal, Does.Contain("    (0.00/100%)\r").And.Match(@"\(100\.00/100%\)\r\r?\n" + verdict.Replace(".", @"\.", StringComparison.Ordinal)));
            Assert.That(redirected.StandardOutput, Is.EqualTo(expected), "no progress into a pipe");
        });
    }
}
