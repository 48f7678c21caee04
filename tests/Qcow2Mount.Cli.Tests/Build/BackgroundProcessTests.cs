using System.Diagnostics;
using System.Globalization;

namespace Qcow2Mount.Cli.Tests.Build;

/// <summary>
/// The test helper every long-running process of the suite goes through (TestSupport's BackgroundProcess): its
/// failures name what they waited for and carry the program's output, its kill reaches the whole tree, and the
/// output-files mode keeps the program's own pid (what the Wine tests' Ctrl+C relies on).
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)] // runs sh, sleep and kill: external programs
public sealed class BackgroundProcessTests
{
    [Test]
    public void WaitUntil_ProgramExitsFirst_ThrowsWithItsExitCodeAndStderr()
    {
        using var process = BackgroundProcess.Start("sh", ["-c", "echo broken pipe dream >&2; exit 3"]);

        var e = Assert.Throws<ExternalCommandException>(() => process.WaitUntil(() => false, "its socket"));

        Assert.That(e!.Message, Does.Contain("exited with 3 before its socket").And.Contain("broken pipe dream"));
    }

    [Test]
    public void WaitUntil_NothingWithinTheTimeout_ThrowsNamingWhatItWaitedFor()
    {
        using var process = BackgroundProcess.Start("sh", ["-c", "echo waiting; exec sleep 60"]);
        process.WaitForOutput("waiting");

        var e = Assert.Throws<ExternalCommandException>(() => process.WaitUntil(() => false, "its socket", TimeSpan.FromMilliseconds(300)));

        Assert.That(e!.Message, Does.Contain("no its socket within 0.3 s").And.Contain("stdout: waiting"));
    }

    [Test]
    public void Dispose_ProgramWithAChild_KillsBoth()
    {
        int child;
        using (var process = BackgroundProcess.Start("sh", ["-c", "sleep 60 & echo $!; wait"]))
        {
            process.WaitUntil(() => process.StandardOutput.Contains('\n', StringComparison.Ordinal), "the child's pid");
            child = int.Parse(process.StandardOutput.Trim(), CultureInfo.InvariantCulture);
            Assert.That(Alive(child), Is.True, "the child runs");
        }

        var clock = Stopwatch.StartNew();
        while (Alive(child) && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.Sleep(20);
        }

        Assert.That(Alive(child), Is.False, "the child outlived the disposed process");
    }

    [Test]
    public void Signal_Term_ReachesTheProgramAndWaitForExitReturnsItsOutput()
    {
        using var process = BackgroundProcess.Start("sh", ["-c", "trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done"]);
        process.WaitForOutput("ready");

        process.Signal("TERM");
        var result = process.WaitForExit(TimeSpan.FromSeconds(30));

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(7), result.ToString());
            Assert.That(result.StandardOutput, Is.EqualTo("ready\ngot TERM\n"));
        });
    }

    [Test]
    public void Start_OutputFiles_KeepsTheProgramsPidAndReadsWhatItWrites()
    {
        using var dir = new TempDir("background");
        using var process = BackgroundProcess.Start("sh", ["-c", "echo $$; echo to stderr >&2; exec sleep 60"], outputFiles: Path.Combine(dir.Path, "run"));

        process.WaitUntil(() => process.StandardError.Contains("to stderr", StringComparison.Ordinal), "its stderr");

        Assert.That(process.StandardOutput.Trim(), Is.EqualTo(process.Id.ToString(CultureInfo.InvariantCulture)), "exec'ed by sh: the pid is the program's own");
    }

    /// <summary>Running (not a zombie waiting to be reaped).</summary>
    private static bool Alive(int pid)
    {
        try
        {
            return !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z ", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false; // gone (FileNotFound and DirectoryNotFound are IOExceptions)
        }
    }
}
