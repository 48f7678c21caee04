using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Cli.Tests.Commands;

/// <summary>
/// <c>qcow2mount bench</c> sends qemu-img bench's requests: the same offsets (wrapping at the end of the disk), the same
/// bytes, the same first line, and flushes when qemu-img's cache mode and flush interval say so.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class BenchCommandTests : CommandTestBase
{
    [TestCase("on", 1)]
    [TestCase("off", 1)]
    [TestCase("on", 4)]
    public void WriteBench_SameImageContentAndFirstLineAsQemuImgBench(string extendedL2, int depth)
    {
        // A 4 MiB overlay over a written backing file; 48 requests 128 KiB apart wrap past the end once.
        string backing = QemuImage("base.qcow2", "cluster_size=65536", "4M", "write -P 0x11 0 4M");
        string[] overlay = ["create", "-q", "-f", "qcow2", "-b", backing, "-F", "qcow2", "-o", $"cluster_size=131072,extended_l2={extendedL2}"];
        QemuTools.Ok("qemu-img", [.. overlay, PathOf("ours.qcow2")]);
        QemuTools.Ok("qemu-img", [.. overlay, PathOf("theirs.qcow2")]);
        string[] options = ["-w", "-c", "48", "-d", $"{depth}", "-o", "12288", "-s", "4096", "-S", "128k", "--pattern=0xa5"];

        var ours = CliHarness.Run(["bench", .. options, PathOf("ours.qcow2")]);
        var theirs = QemuTools.Run("qemu-img", ["bench", .. options, "-f", "qcow2", PathOf("theirs.qcow2")]);

        var compare = QemuTools.Run("qemu-img", "compare", PathOf("ours.qcow2"), PathOf("theirs.qcow2"));
        var check = QemuTools.Check(PathOf("ours.qcow2"));
        var pattern = QemuTools.Run("qemu-io", "-f", "qcow2", "-c", "read -P 0x11 8192 4096", "-c", "read -P 0xa5 12288 4096", "-c", "read -P 0x11 16384 4096", "-c", "read -P 0xa5 143360 4096", PathOf("ours.qcow2"));
        Assert.Multiple(() =>
        {
            Assert.That(ours.Code, Is.EqualTo(0), ours.Stderr);
            Assert.That(theirs.Code, Is.EqualTo(0), theirs.Stderr);
            Assert.That(ours.Stdout.Split('\n')[0], Is.EqualTo(theirs.Stdout.Split('\n')[0]));
            Assert.That(ours.Stdout, Does.Match(@"\nRun completed in \d+\.\d{3} seconds\.\n$"));
            Assert.That(compare.Code, Is.EqualTo(0), compare.Stdout + compare.Stderr);
            Assert.That(check.IsClean, Is.True, check.ToString());
            // Requests 0-31 write at 12288 + k × 128 KiB; request 32 wraps back to 12288. Around them the backing shows.
            Assert.That(pattern.Stdout, Does.Not.Contain("Pattern verification failed").And.Contain("read 4096/4096 bytes at offset 143360"), pattern.Stdout);
        });
    }

    [Test]
    public void ReadBench_ReadsWithoutChangingTheImage_QuietPrintsNothing()
    {
        string image = QemuImage("a.qcow2", "cluster_size=65536,extended_l2=on", "8M", "write -P 3 0 8M");
        byte[] before = File.ReadAllBytes(image);

        var loud = CliHarness.Run("bench", "-c", "500", "-d", "2", "-s", "64k", "-S", "128k", image);
        var quiet = CliHarness.Run("bench", "-q", "-c", "10", image);

        Assert.Multiple(() =>
        {
            Assert.That(loud.Code, Is.EqualTo(0), loud.Stderr);
            Assert.That(loud.Stdout, Does.StartWith("Sending 500 read requests, 65536 bytes each, 2 in parallel (starting at offset 0, step size 131072)\nRun completed in "));
            Assert.That(quiet.Code, Is.EqualTo(0), quiet.Stderr);
            Assert.That(quiet.Stdout, Is.Empty);
            Assert.That(File.ReadAllBytes(image), Is.EqualTo(before));
        });
    }

    /// <summary>A raw file syncs once per flush, so strace counts the flushes: none with unsafe, one at the end by
    /// default, one per write with writethrough, one per interval plus the final one with --flush-interval.</summary>
    [TestCase(new string[0], 1)]
    [TestCase(new[] { "-t", "unsafe" }, 0)]
    [TestCase(new[] { "-t", "none" }, 1)]
    [TestCase(new[] { "-t", "writethrough" }, 8)]
    [TestCase(new[] { "-t", "directsync" }, 8)]
    [TestCase(new[] { "--flush-interval=4" }, 3)]
    public void WriteBench_CacheModeAndFlushInterval_SyncAsOften(string[] options, int expectedSyncs)
    {
        string image = PathOf("disk.raw");
        File.WriteAllBytes(image, new byte[1 << 20]);
        string trace = PathOf("strace.txt");
        var run = ProcessRunner.Capture("strace", ["-f", "-y", "-e", "trace=fsync,fdatasync", "-o", trace,
            "dotnet", Path.Combine(TestContext.CurrentContext.TestDirectory, "qcow2mount.dll"), "bench", "-w", "-c", "8", "-d", "1", "--pattern=9", .. options, image]);
        int syncs = File.ReadLines(trace).Count(line => line.Contains($"<{image}>", StringComparison.Ordinal) && line.Contains("sync(", StringComparison.Ordinal));
        byte[] content = File.ReadAllBytes(image);
        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(0), run.StandardError);
            Assert.That(syncs, Is.EqualTo(expectedSyncs));
            Assert.That(content.AsSpan(0, 8 * 4096).ToArray(), Is.All.EqualTo((byte)9));
            Assert.That(content.AsSpan(8 * 4096).ToArray(), Is.All.EqualTo((byte)0));
        });
    }
}
