using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Cli.Tests.Commands;

/// <summary><c>convert -l SNAPSHOT</c>: the internal snapshot copied byte for byte as <c>qemu-img convert -l</c> copies it.</summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class ConvertSnapshotTests : CommandTestBase
{
    public static IEnumerable<string> Kinds => SnapshotImages.Kinds;

    [TestCaseSource(nameof(Kinds))]
    public void Convert_SnapshotByName_RawTargetEqualsQemuImgConvert(string kind)
    {
        var image = SnapshotImages.Build(Dir, kind);
        foreach (var (name, _) in image.Snapshots)
        {
            string param = "snapshot.name=" + name;
            string ours = PathOf("ours.raw"), theirs = PathOf("theirs.raw");
            var run = CliHarness.Run("convert", "-l", param, "-O", "raw", image.Path, ours);
            QemuTools.QemuImg("convert", "-l", param, "-O", "raw", image.Path, theirs);

            Assert.That(run.Code, Is.Zero, run.Stderr);
            byte[] expected = File.ReadAllBytes(theirs), actual = File.ReadAllBytes(ours);
            Assert.That(Checksum.FirstDifference(expected, actual), Is.EqualTo(-1), $"{kind} {name}: {Checksum.DescribeDifference(expected, actual)}");
        }
    }

    [Test]
    public void Convert_SnapshotIdToQcow2_ComparesEqualToQemuRawOfIt()
    {
        var image = SnapshotImages.Build(Dir, "extended-l2");
        string ours = PathOf("ours.qcow2"), theirs = PathOf("theirs.raw");

        var run = CliHarness.Run("convert", "-l", "1", "-O", "qcow2", image.Path, ours);
        QemuTools.QemuImg("convert", "-l", "1", "-O", "raw", image.Path, theirs);

        Assert.That(run.Code, Is.Zero, run.Stderr);
        Assert.That(QemuTools.CompareResult(ours, theirs).ExitCode, Is.Zero);
        Assert.That(QemuTools.Check(ours).ExitCode, Is.Zero);
    }

    [TestCase("nope", 2, "no snapshot matches 'nope'")]
    [TestCase("snapshot.size=1", 1, "Invalid parameter 'snapshot.size'")]
    public void Convert_BadSnapshot_FailsInOneLineWithoutTarget(string param, int code, string message)
    {
        var image = SnapshotImages.Build(Dir, "compressed");
        string target = PathOf("out.raw");

        var run = CliHarness.Run("convert", "-l", param, image.Path, target);

        Assert.Multiple(() =>
        {
            Assert.That(run.Code, Is.EqualTo(code));
            Assert.That(run.Stderr, Does.Contain(message));
            Assert.That(run.Stderr.Trim(), Does.Not.Contain("\n"));
            Assert.That(File.Exists(target), Is.False);
        });
    }
}
