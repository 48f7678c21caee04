using System.Runtime.Versioning;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Cli.Tests.Build;

/// <summary>
/// .ci/run in a scratch copy of the repository with a stand-in <c>dotnet</c> first on PATH, so that its
/// handling of build.ps1's outcome is tested without building anything: the last line it prints is
/// always a <c>N passed, M failed</c> line, and its exit code follows build.ps1's.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
[UnsupportedOSPlatform("windows")] // .ci/run is a bash script for the Linux CI machine
[Category(TestCategories.Qemu)]
internal sealed class CiRunScriptTests
{
    private string _repo = null!;

    [SetUp]
    public void CopyCiScript()
    {
        _repo = TempDir.Create("ci");
        Directory.CreateDirectory(Path.Combine(_repo, ".ci"));
        Directory.CreateDirectory(Path.Combine(_repo, "bin"));
        File.Copy(Path.Combine(ScriptRun.RepositoryRoot, ".ci", "run"), Path.Combine(_repo, ".ci", "run"));
    }

    [TearDown]
    public void DeleteCopy()
    {
        TempDir.Delete(_repo);
    }

    // What the stand-in build.ps1 does → the line .ci/run must end with, and its exit code.
    [TestCase("echo 'Unhandled exception'; exit 3", "0 passed, 1 failed", 1, TestName = "Run_BuildScriptCrashesBeforeSummary_EndsWithOneFailure")]
    [TestCase("echo '5 passed, 2 failed'; exit 1", "5 passed, 2 failed", 1, TestName = "Run_TestsFail_KeepsSummaryAndFailureExitCode")]
    [TestCase("echo '0 passed, 0 failed'", "0 passed, 0 failed", 1, TestName = "Run_NoTestRan_Fails")]
    [TestCase("echo '7 passed, 0 failed'", "7 passed, 0 failed", 0, TestName = "Run_TestsPass_Succeeds")]
    public void Run_EndsWithSummaryAndBuildScriptVerdict(string buildScript, string lastLine, int exitCode)
    {
        FakeBuildScript(buildScript);

        var run = RunCi();

        Assert.Multiple(() =>
        {
            Assert.That(run.LastLine, Is.EqualTo(lastLine));
            Assert.That(run.ExitCode, Is.EqualTo(exitCode));
        });
    }

    [Test]
    public void Run_BenchmarkSmokeRunFails_PrintsItAndStillEndsWithSummary()
    {
        FakeBuildScript("echo '7 passed, 0 failed'");
        WriteScript("scripts/bench.sh", "[ \"$1\" = --smoke ] && echo 'bench: smoke table'; exit 5");

        var run = RunCi();

        Assert.Multiple(() =>
        {
            Assert.That(run.LastLine, Is.EqualTo("7 passed, 0 failed"));
            Assert.That(run.ExitCode, Is.Zero);
            Assert.That(run.Stdout, Does.Contain("bench: smoke table"));
        });
    }

    [TestCase(0, "7 passed, 0 failed", 0, TestName = "Run_FuzzingFindsNothing_SummaryUnchanged")]
    [TestCase(1, "7 passed, 1 failed", 1, TestName = "Run_FuzzingFindsACrash_CountsAsOneMoreFailure")]
    public void Run_Fuzzing_Verdict(int fuzzExit, string lastLine, int exitCode)
    {
        FakeBuildScript("echo '7 passed, 0 failed'");
        WriteScript("fuzz/run.sh", $"echo \"fuzz: $*\"; exit {fuzzExit}");

        var run = RunCi();

        Assert.Multiple(() =>
        {
            Assert.That(run.LastLine, Is.EqualTo(lastLine));
            Assert.That(run.ExitCode, Is.EqualTo(exitCode));
            Assert.That(run.Stdout, Has.Some.StartsWith("fuzz: --seconds 120 --seed "));
        });
    }

    /// <summary>A stand-in <c>dotnet</c>: tool restore succeeds, <c>dotnet pwsh …</c> runs <paramref name="body"/>.</summary>
    private void FakeBuildScript(string body) =>
        WriteScript("bin/dotnet", $"case \"$1\" in pwsh) {body} ;; *) exit 0 ;; esac");

    private void WriteScript(string relativePath, string body)
    {
        string path = Path.Combine(_repo, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, $"#!/bin/sh\n{body}\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private ScriptRun RunCi() => ScriptRun.Start(
        "bash",
        [Path.Combine(_repo, ".ci", "run")],
        _repo,
        new Dictionary<string, string>
        {
            ["PATH"] = $"{Path.Combine(_repo, "bin")}:{Environment.GetEnvironmentVariable("PATH")}",
            ["CI"] = "true",
        });
}
