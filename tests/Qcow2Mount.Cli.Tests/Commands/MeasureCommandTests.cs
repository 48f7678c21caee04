using System.Text.Json.Nodes;

namespace Qcow2Mount.Cli.Tests.Commands;

/// <summary>
/// qcow2mount measure at the command line: qemu-img measure's text and JSON for the same arguments, its errors as
/// one line with its exit code, and create's defaults when no layout is given. The numbers over many layouts and
/// source shapes are in Core's ImageMeasureTests.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class MeasureCommandTests : CommandTestBase
{
    [TestCase("-O", "qcow2", "-o", "cluster_size=65536,extended_l2=off", "--size", "10G")]
    [TestCase("--output=json", "-O", "qcow2", "-o", "cluster_size=2M,extended_l2=on,refcount_bits=1", "--size", "1T")]
    [TestCase("--size", "1000")]
    [TestCase("--output", "json", "--size", "5M")]
    [TestCase("-O", "qcow2", "-o", "cluster_size=65536,extended_l2=off", "IMAGE")]
    [TestCase("--output=json", "-O", "qcow2", "-o", "cluster_size=131072,extended_l2=on", "IMAGE")]
    [TestCase("-O", "qcow2", "-o", "cluster_size=65536,extended_l2=off,compat=0.10", "IMAGE")]
    [TestCase("IMAGE")]
    public void Measure_SameOutputAsQemuImg(params string[] args)
    {
        string image = QemuImage("src.qcow2", "cluster_size=65536", "64M", "write -P 1 0 3M", "write -P 2 40M 4k");
        QemuTools.Ok("qemu-img", "bitmap", "--add", image, "b0");
        args = args.Select(a => a == "IMAGE" ? image : a).ToArray();
        var ours = CliHarness.Run(["measure", .. args]);
        var theirs = QemuTools.Run("qemu-img", ["measure", .. args]);
        Assert.Multiple(() =>
        {
            Assert.That(ours.Code, Is.EqualTo(0), ours.Stderr);
            Assert.That(theirs.Code, Is.EqualTo(0), theirs.Stderr);
            Assert.That(ours.Stdout, Is.EqualTo(theirs.Stdout));
        });
    }

    [Test]
    public void Measure_WithoutLayoutOptions_UsesCreateDefaults()
    {
        var ours = CliHarness.Run("measure", "--output=json", "-O", "qcow2", "--size", "100G");
        var theirs = QemuTools.Run("qemu-img", "measure", "--output=json", "-O", "qcow2", "-o", "cluster_size=131072,extended_l2=on", "--size", "100G");
        Assert.That(JsonNode.DeepEquals(JsonNode.Parse(ours.Stdout), JsonNode.Parse(theirs.Stdout)), Is.True, $"ours {ours.Stdout}\ntheirs {theirs.Stdout}");
    }

    private static readonly TestCaseData[] BadArguments =
    [
        new TestCaseData(Array.Empty<string>(), "Either --size N or one filename must be specified."),
        new TestCaseData(new[] { "--size", "1G", "X/src.qcow2" }, "--size N cannot be used together with a filename."),
        new TestCaseData(new[] { "X/src.qcow2", "X/src.qcow2" }, "At most one filename argument is allowed."),
        new TestCaseData(new[] { "-f", "qcow2", "--size", "1G" }, "-f and -l require a filename argument."),
        new TestCaseData(new[] { "--size", "1X" }, "Invalid image size specified. You may use k, M, G, T, P or E suffixes"),
        new TestCaseData(new[] { "--size", "-5" }, "Invalid image size specified. You may use k, M, G, T, P or E suffixes"),
        new TestCaseData(new[] { "--size", "8E" }, "Invalid image size specified. Must be between 0 and 9223372036854775807."),
        new TestCaseData(new[] { "--size", "99999999999999999999" }, "Invalid image size specified. Must be between 0 and 9223372036854775807."),
        new TestCaseData(new[] { "-O", "vmdk", "--size", "1G" }, "output format 'vmdk' is not supported (qcow2 or raw)"),
        new TestCaseData(new[] { "-O", "qcow2", "-o", "foo=1", "--size", "1G" }, "Invalid parameter 'foo'"),
        new TestCaseData(new[] { "-O", "qcow2", "-o", "encrypt.format=luks", "--size", "1G" }, "Encrypted images are not supported"),
        new TestCaseData(new[] { "-O", "raw", "-o", "cluster_size=64k", "--size", "1G" }, "Invalid parameter 'cluster_size'"),
        new TestCaseData(new[] { "-O", "qcow2", "-o", "cluster_size=1000", "--size", "1G" }, "Cluster size must be a power of two between 512 and 2048k"),
        new TestCaseData(new[] { "-O", "qcow2", "-o", "cluster_size=big", "--size", "1G" }, "Parameter 'cluster_size' expects a size, not 'big'"),
        new TestCaseData(new[] { "-O", "qcow2", "-o", "cluster_size=4M", "--size", "1G" }, "Cluster size must be a power of two between 512 and 2048k"),
        new TestCaseData(new[] { "-O", "qcow2", "-o", "extended_l2=on,cluster_size=8k", "--size", "1G" }, "Extended L2 entries are only supported with cluster sizes of at least 16384 bytes"),
        new TestCaseData(new[] { "-O", "qcow2", "-o", "extended_l2=maybe", "--size", "1G" }, "Parameter 'extended_l2' expects 'on' or 'off'"),
        new TestCaseData(new[] { "-O", "qcow2", "-o", "refcount_bits=3", "--size", "1G" }, "Refcount width must be a power of two and may not exceed 64 bits"),
        new TestCaseData(new[] { "-O", "qcow2", "-o", "refcount_bits=abc", "--size", "1G" }, "Parameter 'refcount_bits' expects a number"),
        new TestCaseData(new[] { "-O", "qcow2", "-o", "compat=0.10,refcount_bits=8", "--size", "1G" }, "Different refcount widths than 16 bits require compatibility level 1.1 or above"),
        new TestCaseData(new[] { "-O", "qcow2", "-o", "compat=2", "--size", "1G" }, "Invalid compatibility level: '2'"),
        new TestCaseData(new[] { "-O", "qcow2", "-o", "preallocation=bogus", "--size", "1G" }, "invalid parameter value: bogus"),
        new TestCaseData(new[] { "-O", "qcow2", "-o", "cluster_size=65536,extended_l2=off", "--size", "3000T" }, "The image size is too large (try using a larger cluster size)"),
        new TestCaseData(new[] { "--output=xml", "--size", "1G" }, "--output must be used with human or json as argument."),
        new TestCaseData(new[] { "X/missing.qcow2" }, "Could not open 'X/missing.qcow2': No such file or directory"),
        new TestCaseData(new[] { "-l", "snap", "X/src.qcow2" }, "-l (measuring an internal snapshot) is not supported"),
        new TestCaseData(new[] { "--image-opts", "X/src.qcow2" }, "--image-opts is not supported"),
    ];

    [TestCaseSource(nameof(BadArguments))]
    public void Measure_BadArguments_OneLineAndQemuImgExitCode(string[] args, string message)
    {
        QemuImage("src.qcow2", "cluster_size=65536", "1M");
        args = args.Select(a => a.Replace("X/", Dir + "/", StringComparison.Ordinal)).ToArray();
        var (code, stdout, stderr) = CliHarness.Run(["measure", .. args]);
        int theirs = QemuTools.Run("qemu-img", ["measure", .. args]).Code;
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(1));
            Assert.That(theirs, Is.EqualTo(1), "qemu-img refuses it too");
            Assert.That(stdout, Is.Empty);
            Assert.That(stderr, Does.StartWith("qcow2mount: measure: ").And.Contain(message.Replace("X/", Dir + "/", StringComparison.Ordinal)));
            Assert.That(stderr.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), stderr);
        });
    }

    [Test]
    public void Measure_BrokenMapping_OneLineUnableToGetBlockStatus()
    {
        string image = QemuImage("src.qcow2", "extended_l2=on,cluster_size=65536", "1M", "write -P 1 0 64k");
        using (var f = File.OpenHandle(image, FileMode.Open, FileAccess.ReadWrite))
        {
            Span<byte> b = stackalloc byte[8];
            RandomAccess.Read(f, b, 40);
            long l1 = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(b);
            RandomAccess.Read(f, b, l1);
            long l2 = (long)(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(b) & 0x00FF_FFFF_FFFF_FE00UL);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(b, 0xFFFF_FFFFUL | (1UL << 32));
            RandomAccess.Write(f, b, l2 + 8);
        }

        var (code, _, stderr) = CliHarness.Run("measure", "-O", "qcow2", image);
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(1));
            Assert.That(stderr, Does.StartWith($"qcow2mount: measure: {image}: Unable to get block status: "));
            Assert.That(stderr.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), stderr);
        });
    }

    [Test]
    public void Help_ExplainsTheThreeNumbersAndTheDefaults()
    {
        var (code, stdout, _) = CliHarness.Run("measure", "--help");
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.Zero);
            Assert.That(stdout, Does.StartWith("usage: qcow2mount measure"));
            Assert.That(stdout, Does.Contain("required size").And.Contain("fully allocated size").And.Contain("bitmaps size").And.Contain("-o cluster_size=64k,extended_l2=off"));
        });
    }
}
