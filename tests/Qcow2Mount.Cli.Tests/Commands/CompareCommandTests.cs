using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Cli.Tests.Commands;

/// <summary>
/// qcow2mount compare at the command line: qemu-img compare's output and exit codes (0, 1, 2, 3, 4), -q, usage
/// errors as one line, progress only on a terminal, and Ctrl+C ending a long compare cleanly with status 130.
/// The verdicts on many image shapes are in Core's ImageComparerTests.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class CompareCommandTests : CommandTestBase
{
    /// <summary>Where qemu-img create puts the first L2 table of a 64 KiB-cluster image (qemu-behaviour.md §7).</summary>
    private const long L2Table = 0x40000;

    [TestCase(new string[0], "write -P 1 0 1M", "write -P 1 0 1M")]
    [TestCase(new string[0], "write -P 1 0 1M", "write -P 2 300000 7")]
    [TestCase(new[] { "-s" }, "write -P 1 0 1M", "write -z 0 1M")]
    [TestCase(new[] { "-q" }, "write -P 1 0 1M", "write -P 2 0 1M")]
    public void Compare_SameOutputAndExitCodeAsQemuImg(string[] options, string ioA, string ioB)
    {
        string a = QemuImage("a.qcow2", "cluster_size=65536", "4M", ioA);
        string b = QemuImage("b.qcow2", "cluster_size=65536", "4M", ioB);
        var ours = CliHarness.Run(["compare", .. options, a, b]);
        var theirs = QemuTools.Run("qemu-img", ["compare", .. options, a, b]);
        Assert.Multiple(() =>
        {
            Assert.That(ours.Code, Is.EqualTo(theirs.Code));
            Assert.That(ours.Stdout, Is.EqualTo(theirs.Stdout));
            Assert.That(ours.Stderr, Is.Empty);
        });
    }

    [Test]
    public void Compare_DifferentSizes_WarnsLikeQemuImgAndStrictModeFails()
    {
        string a = QemuImage("a.qcow2", "cluster_size=65536", "4M");
        string b = QemuImage("b.qcow2", "cluster_size=65536", "5M");
        var ours = CliHarness.Run("compare", a, b);
        var strict = CliHarness.Run("compare", "-s", a, b);
        Assert.Multiple(() =>
        {
            Assert.That((ours.Code, ours.Stdout), Is.EqualTo((0, "Warning: Image size mismatch!\nImages are identical.\n")));
            Assert.That((strict.Code, strict.Stdout), Is.EqualTo((1, "Strict mode: Image size mismatch!\n")));
        });
    }

    private static readonly TestCaseData[] Failures =
    [
        new TestCaseData("missing", 2, "qcow2mount: compare: Could not open 'X/missing.qcow2': No such file or directory").SetName("Compare_MissingImage_Exit2"),
        new TestCaseData("format", 2, "qcow2mount: compare: Could not open 'X/a.qcow2': Unknown file format 'vmdk'").SetName("Compare_UnknownFormat_Exit2"),
        new TestCaseData("bitmap", 3, "qcow2mount: compare: Sector allocation test failed for X/a.qcow2: ").SetName("Compare_InvalidSubclusterBitmap_Exit3"),
        new TestCaseData("compressed", 4, "qcow2mount: compare: Error while reading offset 0 of X/a.qcow2: ").SetName("Compare_BrokenCompressedCluster_Exit4"),
        new TestCaseData("cache", 2, "qcow2mount: compare: Invalid source cache option: bogus").SetName("Compare_BadCacheMode_Exit2"),
        new TestCaseData("one", 1, "qcow2mount: compare: Expecting two image file names").SetName("Compare_OneFileName_Exit1"),
        new TestCaseData("option", 1, "qcow2mount: compare: invalid option -- 'Z'").SetName("Compare_UnknownOption_Exit1"),
    ];

    [TestCaseSource(nameof(Failures))]
    public void Compare_Failure_OneLineAndQemuImgExitCode(string kind, int code, string message)
    {
        string a = PathOf("a.qcow2"), b = QemuImage("b.qcow2", "cluster_size=65536", "1M");
        string[] args = kind switch
        {
            "missing" => ["compare", PathOf("missing.qcow2"), b],
            "format" => ["compare", "-f", "vmdk", a, b],
            "cache" => ["compare", "-T", "bogus", a, b],
            "one" => ["compare", a],
            "option" => ["compare", "-Z", a, b],
            _ => ["compare", a, b],
        };
        QemuImage("a.qcow2", kind == "bitmap" ? "extended_l2=on,cluster_size=65536" : "cluster_size=65536", "1M", kind == "compressed" ? "write -c -P 7 0 64k" : "write -P 1 0 64k");
        if (kind == "bitmap")
        {
            // qemu-img puts the first L2 table at 0x40000: mark subcluster 0 both allocated and zero.
            var bitmap = new byte[8];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bitmap, L2Dump.Load(a)[0]!.Value.Bitmap | (1UL << 32));
            Patch(a, L2Table + 8, bitmap);
        }
        else if (kind == "compressed")
        {
            Patch(a, (long)(L2Dump.Load(a)[0]!.Value.Entry & ((1UL << 54) - 1)), Enumerable.Repeat((byte)0xFF, 200).ToArray());
        }

        var (ours, _, stderr) = CliHarness.Run(args);
        int theirs = QemuTools.Run("qemu-img", args).Code;
        Assert.Multiple(() =>
        {
            Assert.That(ours, Is.EqualTo(code));
            Assert.That(theirs, Is.EqualTo(code), "qemu-img's exit code");
            Assert.That(stderr, Does.StartWith(message.Replace("X/", Dir + "/", StringComparison.Ordinal)));
            Assert.That(stderr.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), stderr);
        });
    }

    [TestCase("--image-opts")]
    [TestCase("--object", "secret,id=s")]
    public void Compare_UnsupportedQemuImgOption_OneLineUsageError(params string[] option)
    {
        var (code, _, stderr) = CliHarness.Run(["compare", .. option, "a", "b"]);
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(1));
            Assert.That(stderr, Is.EqualTo($"qcow2mount: compare: {option[0]} is not supported (give image file names)\n"));
        });
    }

    [Test]
    public void Help_DescribesTheVerdictsAndExitCodes()
    {
        var (code, stdout, _) = CliHarness.Run("compare", "--help");
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.Zero);
            Assert.That(stdout, Does.StartWith("usage: qcow2mount compare"));
            Assert.That(stdout, Does.Contain("Content mismatch at offset N!").And.Contain("3 its allocation status cannot be read"));
        });
    }

    [Test]
    public void Progress_OnATerminal_ShownAndEndsAt100()
    {
        string a = QemuImage("a.qcow2", "cluster_size=65536", "8M", "write -P 1 0 8M");
        string b = QemuImage("b.qcow2", "cluster_size=65536", "8M", "write -P 1 0 8M");
        // script(1) gives the command a pseudo-terminal as stdout and keeps every byte it wrote in a file.
        ProcessRunner.Run("script", ["-qec", $"dotnet {Cli} compare -p {a} {b}", PathOf("typescript")]);
        string onTerminal = File.ReadAllText(PathOf("typescript"));
        var redirected = ProcessRunner.Run("dotnet", [Cli, "compare", "-p", a, b]);
        Assert.Multiple(() =>
        {
            // The terminal turns "\n" into "\r\n"; .NET may add terminal mode sequences around the output.
            Assert.That(onTerminal, Does.Contain("    (0.00/100%)\r").And.Match(@"\(100\.00/100%\)\r\r?\nImages are identical\.\r?\n"));
            Assert.That(redirected.StandardOutput, Is.EqualTo("Images are identical.\n"), "no progress into a pipe");
        });
    }

    [Test]
    public void CtrlC_DuringALongCompare_StopsCleanlyWithStatus130()
    {
        // 4 GiB of preallocated data clusters against a sparse raw file: every byte is read, for seconds.
        string a = PathOf("a.qcow2"), b = PathOf("b.raw");
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "preallocation=falloc", a, "4G");
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "raw", b, "4G");
        // A shell starts the compare in the background (with SIGINT at its default: a background job of a
        // non-interactive shell would inherit it ignored), waits until it has both images open (its handler is in
        // place before it opens them), sends SIGINT as Ctrl+C does, and reports the exit status.
        var (status, stdout, stderr) = Interrupt(["compare", a, b], $"[ \"$(ls -l /proc/$pid/fd 2>/dev/null | grep -c -e '{a}' -e '{b}')\" -ge 2 ]");
        Assert.Multiple(() =>
        {
            Assert.That(status, Is.EqualTo("status 130\n"));
            Assert.That(stderr, Is.EqualTo("qcow2mount: compare: interrupted\n"), "the handler ran (not a default signal death)");
            Assert.That(stdout, Is.Empty, "no verdict for an interrupted compare");
        });
    }

    private static void Patch(string path, long offset, byte[] bytes)
    {
        using var f = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.Write(f, bytes, offset);
    }
}
