using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Cli.Tests.Commands;

/// <summary>
/// <c>convert -t CACHE</c> syncs the target when qemu-img does: never by default (unsafe), once at the end for
/// writeback/none, after every chunk for writethrough/directsync. Counted with strace on the real process.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class ConvertCacheTests : CommandTestBase
{
    /// <summary>10 MiB of data: five 2 MiB chunks.</summary>
    private const int SourceSize = 10 << 20;

    [TestCase(null, 0)]
    [TestCase("unsafe", 0)]
    [TestCase("writeback", 1)]
    [TestCase("none", 1)]
    [TestCase("writethrough", 6)]
    [TestCase("directsync", 6)]
    public void Convert_CacheMode_SyncsTheRawTargetAsOften(string? cache, int expectedSyncs)
    {
        string source = Source();
        string target = PathOf("out.raw");
        int syncs = CountTargetSyncs(
            "dotnet", [Path.Combine(TestContext.CurrentContext.TestDirectory, "qcow2mount.dll"), "convert", .. CacheOption(cache), "-O", "raw", source, target],
            target);
        var compare = QemuTools.Run("qemu-img", "compare", "-f", "qcow2", "-F", "raw", source, target);
        Assert.Multiple(() =>
        {
            Assert.That(syncs, Is.EqualTo(expectedSyncs));
            Assert.That(compare.Code, Is.EqualTo(0), compare.Stdout + compare.Stderr);
        });
    }

    /// <summary>The oracle: qemu-img convert's own count for the modes whose count does not depend on its request size.</summary>
    [TestCase(null, 0)]
    [TestCase("unsafe", 0)]
    [TestCase("writeback", 1)]
    public void QemuImgConvert_CacheMode_SyncsTheRawTargetAsOften(string? cache, int expectedSyncs)
    {
        string source = Source();
        string target = PathOf("theirs.raw");
        int syncs = CountTargetSyncs("qemu-img", ["convert", .. CacheOption(cache), "-f", "qcow2", "-O", "raw", source, target], target);
        Assert.That(syncs, Is.EqualTo(expectedSyncs));
    }

    private string Source() => QemuImage("src.qcow2", "cluster_size=65536", "10M", $"write -P 7 0 {SourceSize}");

    private static string[] CacheOption(string? cache) => cache is null ? [] : ["-t", cache];

    /// <summary>Runs the command under strace and counts fsync/fdatasync calls on <paramref name="target"/>.</summary>
    private int CountTargetSyncs(string program, string[] args, string target)
    {
        string trace = PathOf("strace.txt");
        var run = ProcessRunner.Capture("strace", ["-f", "-y", "-e", "trace=fsync,fdatasync", "-o", trace, program, .. args]);
        Assert.That(run.ExitCode, Is.EqualTo(0), run.StandardError);
        return File.ReadLines(trace).Count(line => line.Contains($"<{target}>", StringComparison.Ordinal) && line.Contains("sync(", StringComparison.Ordinal));
    }
}
