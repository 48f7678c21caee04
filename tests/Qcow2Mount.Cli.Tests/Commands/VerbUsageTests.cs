using System.Text.RegularExpressions;

namespace Qcow2Mount.Cli.Tests.Commands;

/// <summary>Help and argument errors of the tool verbs: help exits 0, every error is one line with a non-zero status.</summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class VerbUsageTests : CommandTestBase
{
    private static readonly string[] Verbs = ["create", "info", "check", "map", "convert", "resize", "bench"];

    [TestCaseSource(nameof(Verbs))]
    public void Help_PrintsUsage_ExitsZero(string verb)
    {
        var (code, stdout, _) = CliHarness.Run(verb, "--help");
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(0));
            Assert.That(stdout, Does.StartWith($"usage: qcow2mount {verb}"));
        });
    }

    [Test]
    public void TopLevelHelp_ListsEveryToolVerb()
    {
        var (_, stdout, _) = CliHarness.Run("--help");
        Assert.That(Verbs, Is.All.Matches<string>(v => stdout.Contains($"  {v} ", StringComparison.Ordinal)));
    }

    /// <summary>Like qemu-img --version: the product version (the one the .deb and the MSI carry) and the commit.</summary>
    [TestCase("--version")]
    [TestCase("-V")]
    public void Version_PrintsTheProductVersionAndCommit_ExitsZero(string flag)
    {
        var (code, stdout, stderr) = CliHarness.Run(flag);
        string version = typeof(Qcow2Mount.Cli.Mount.MountCommand).Assembly.GetName().Version!.ToString(3);
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.Zero, stderr);
            Assert.That(stdout.TrimEnd(), Does.Match($@"^qcow2mount version {Regex.Escape(version)}\S* \(commit [0-9a-f]{{7,12}}\)$"));
        });
    }

    private static readonly TestCaseData[] BadArguments =
    [
        new TestCaseData(new[] { "create", "X/a.qcow2", "5X" }, 1, "Invalid image size '5X' specified."),
        new TestCaseData(new[] { "create", "X/a.qcow2", "--", "-5" }, 1, "Invalid image size '-5' specified."),
        new TestCaseData(new[] { "create", "-o", "foo=1", "X/a.qcow2", "1M" }, 1, "Invalid parameter 'foo'"),
        new TestCaseData(new[] { "create", "-o", "cluster_size=3000", "X/a.qcow2", "1M" }, 1, "Cluster size must be a power of two between 512 and 2048k"),
        new TestCaseData(new[] { "create", "-o", "compat=2", "X/a.qcow2", "1M" }, 1, "Parameter 'version' does not accept value '2'"),
        new TestCaseData(new[] { "create", "-o", "cluster_size=big", "X/a.qcow2", "1M" }, 1, "qcow2mount: Parameter 'cluster_size' expects a size, not 'big'"),
        new TestCaseData(new[] { "create", "-o", "extended_l2=maybe", "X/a.qcow2", "1M" }, 1, "Parameter 'extended_l2' expects 'on' or 'off'"),
        new TestCaseData(new[] { "create", "-o", "preallocation=full", "X/a.qcow2", "1M" }, 1, "Preallocation mode 'full' is not supported"),
        new TestCaseData(new[] { "create", "X/a.qcow2" }, 1, "Image creation needs a size parameter"),
        new TestCaseData(new[] { "create" }, 1, "expecting a filename"),
        new TestCaseData(new[] { "create", "-b", "X/missing.qcow2", "X/a.qcow2" }, 1, "Backing file specified without backing format"),
        new TestCaseData(new[] { "create", "-b", "missing.qcow2", "-F", "qcow2", "X/a.qcow2" }, 1, "could not open backing image"),
        new TestCaseData(new[] { "create", "-Z", "X/a.qcow2", "1M" }, 1, "invalid option -- 'Z'"),
        new TestCaseData(new[] { "create", "-f", "vmdk", "X/a.qcow2", "1M" }, 1, "Unknown file format 'vmdk'"),
        new TestCaseData(new[] { "info", "X/missing.qcow2" }, 1, "Could not open"),
        new TestCaseData(new[] { "info", "--output=xml", "X/a.raw" }, 1, "--output must be used with human or json"),
        new TestCaseData(new[] { "info", "--bogus", "X/a.raw" }, 1, "unrecognized option '--bogus'"),
        new TestCaseData(new[] { "check", "-r", "some", "X/a.raw" }, 1, "expecting 'leaks' or 'all'"),
        new TestCaseData(new[] { "check", "X/a.raw" }, 63, "This image format does not support checks"),
        new TestCaseData(new[] { "check", "X/a.raw", "X/b.raw" }, 1, "unexpected argument"),
        new TestCaseData(new[] { "map", "-l", "lots", "X/a.raw" }, 1, "Invalid max length 'lots'"),
        new TestCaseData(new[] { "convert", "-O", "vmdk", "X/a.raw", "X/b" }, 1, "Unknown file format 'vmdk'"),
        new TestCaseData(new[] { "convert", "-c", "X/a.raw", "X/b.raw" }, 1, "Compression not supported for this file format"),
        new TestCaseData(new[] { "convert", "X/a.raw" }, 1, "expecting a source and a target"),
        new TestCaseData(new[] { "convert", "-t", "bogus", "X/a.raw", "X/b.raw" }, 1, "Invalid cache option: bogus"),
        new TestCaseData(new[] { "convert", "-O", "qcow2", "-o", "backing_file=x", "X/a.raw", "X/b" }, 1, "backing file for the target is not supported"),
        new TestCaseData(new[] { "resize", "X/a.qcow2", "1000" }, 1, "The new size must be a multiple of 512"),
        new TestCaseData(new[] { "resize", "X/a.qcow2", "1M" }, 1, "Use the --shrink option to perform a shrink operation."),
        new TestCaseData(new[] { "resize", "X/a.qcow2", "-5M" }, 1, "New image size must be positive"),
        new TestCaseData(new[] { "resize", "X/a.qcow2", "big" }, 1, "Invalid image size 'big' specified."),
        new TestCaseData(new[] { "resize", "X/a.qcow2" }, 1, "expecting an image file name and a size"),
        new TestCaseData(new[] { "bench", "-c", "x", "X/a.raw" }, 1, "Invalid request count specified"),
        new TestCaseData(new[] { "bench", "-d", "0", "X/a.raw" }, 1, "Invalid queue depth specified"),
        new TestCaseData(new[] { "bench", "-s", "3000000000", "X/a.raw" }, 1, "Invalid buffer size specified. Must be between 0 and 2147483647."),
        new TestCaseData(new[] { "bench", "-o", "far", "X/a.raw" }, 1, "Invalid offset 'far' specified."),
        new TestCaseData(new[] { "bench", "--flush-interval=64", "X/a.raw" }, 1, "--flush-interval is only available in write tests"),
        new TestCaseData(new[] { "bench", "-w", "--flush-interval=5", "X/a.raw" }, 1, "Flush interval can't be smaller than depth"),
        new TestCaseData(new[] { "bench", "-w", "--pattern=300", "X/a.raw" }, 1, "Invalid pattern byte specified"),
        new TestCaseData(new[] { "bench", "-t", "bogus", "X/a.raw" }, 1, "Invalid cache mode 'bogus'"),
        new TestCaseData(new[] { "bench", "-w", "-c", "1", "-o", "4096", "X/a.raw" }, 1, "Failed request: 4096 bytes at offset 4096 reach past the end of the image (4096 bytes)"),
        new TestCaseData(new[] { "bench", "-f", "vmdk", "X/a.raw" }, 1, "Unknown file format 'vmdk'"),
    ];

    [TestCaseSource(nameof(BadArguments))]
    public void BadArguments_OneLineError_NonZeroExit(string[] args, int expectedCode, string message)
    {
        File.WriteAllBytes(PathOf("a.raw"), new byte[4096]);
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", PathOf("a.qcow2.base"), "4M");
        if (args[0] is "resize")
        {
            QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", PathOf("a.qcow2"), "4M");
        }

        var (code, stdout, stderr) = CliHarness.Run(args.Select(a => a.Replace("X/", Dir + "/", StringComparison.Ordinal)).ToArray());
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(expectedCode));
            Assert.That(stderr, Does.Contain(message));
            Assert.That(stderr.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), stderr);
            Assert.That(stderr, Does.Not.Contain("Exception").And.Not.Contain("   at "));
        });
    }
}
