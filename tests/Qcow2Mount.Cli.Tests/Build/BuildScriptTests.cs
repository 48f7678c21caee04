using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Cli.Tests.Build;

/// <summary>
/// build.ps1 run as a user runs it (<c>dotnet pwsh build.ps1 …</c>): target dispatch, and the TRX summary whose
/// closing line CI reads. Only targets that build nothing run here.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
internal sealed class BuildScriptTests
{
    private string _results = null!;

    [SetUp]
    public void CreateResultsFolder()
    {
        _results = TempDir.Create("trx");
    }

    [TearDown]
    public void DeleteResultsFolder()
    {
        TempDir.Delete(_results);
    }

    [Test]
    public void UnknownTarget_PrintsOneLineAndExitsWith2()
    {
        var run = ScriptRun.BuildScript("frobnicate");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2));
            Assert.That(run.Stderr, Has.Count.EqualTo(1));
            Assert.That(run.Stderr[0], Does.StartWith("build.ps1: unknown target 'frobnicate'"));
            Assert.That(run.Stdout, Is.Empty);
        });
    }

    [Test]
    public void Summary_PassesAndFailuresInSeveralFiles_AddsThemUpAndExits1()
    {
        new TrxFile().Add("A", "Passed").Add("B", "Passed").Add("C", "Passed").Save(_results, "one.trx", "Qcow2Mount.Core.Tests");
        new TrxFile().Add("D", "Passed").Add("E", "Failed", "expected 1\nbut was 2").Add("F", "Error").Save(_results, "two.trx", "Qcow2Mount.Fuse.Tests");

        var run = ScriptRun.BuildScript("summary", _results);

        Assert.Multiple(() =>
        {
            Assert.That(run.LastLine, Is.EqualTo("4 passed, 2 failed"));
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.AllOutput, Does.Contain("E: expected 1"));
            Assert.That(run.AllOutput, Does.Contain("Qcow2Mount.Fuse.Tests"));
        });
    }

    [Test]
    public void Summary_AllPassed_Exits0()
    {
        new TrxFile().Add("A", "Passed").Add("B", "Passed").Save(_results, "one.trx");

        var run = ScriptRun.BuildScript("summary", _results);

        AssertSummary(run, "2 passed, 0 failed", 0);
    }

    [Test]
    public void Summary_NotExecutedTests_AppendsSkippedCount()
    {
        new TrxFile().Add("A", "Passed").Add("B", "NotExecuted").Add("C", "Inconclusive").Save(_results, "one.trx");

        var run = ScriptRun.BuildScript("summary", _results);

        AssertSummary(run, "1 passed, 0 failed, 2 skipped", 0);
    }

    [Test]
    public void Summary_NoTrxFiles_PrintsZeroAndExits1()
    {
        var run = ScriptRun.BuildScript("summary", _results);

        Assert.Multiple(() =>
        {
            Assert.That(run.LastLine, Is.EqualTo("0 passed, 0 failed"));
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.Stderr, Does.Contain("build.ps1: no test ran"));
        });
    }

    [Test]
    public void Summary_EmptyTestProject_CountsNothingAndExits1()
    {
        new TrxFile().Save(_results, "empty.trx");

        var run = ScriptRun.BuildScript("summary", _results);

        AssertSummary(run, "0 passed, 0 failed", 1);
    }

    [Test]
    public void Summary_AbortedRunWithoutFailedTest_CountsOneFailure()
    {
        new TrxFile { RunOutcome = "Aborted" }.Add("A", "Passed").Add("B", "Passed").Save(_results, "crashed.trx");

        var run = ScriptRun.BuildScript("summary", _results);

        AssertSummary(run, "2 passed, 1 failed", 1);
    }

    [Test]
    public void Summary_NoCounters_CountsResultOutcomes()
    {
        new TrxFile { WithCounters = false }.Add("A", "Passed").Add("B", "Failed").Add("C", "Passed").Save(_results, "partial.trx");

        var run = ScriptRun.BuildScript("summary", _results);

        AssertSummary(run, "2 passed, 1 failed", 1);
    }

    [Test]
    public void Summary_UnreadableTrx_CountsAsFailure()
    {
        File.WriteAllText(Path.Combine(_results, "torn.trx"), "<TestRun");

        var run = ScriptRun.BuildScript("summary", _results);

        AssertSummary(run, "0 passed, 1 failed", 1);
    }

    private static void AssertSummary(ScriptRun run, string lastLine, int exitCode)
    {
        Assert.Multiple(() =>
        {
            Assert.That(run.LastLine, Is.EqualTo(lastLine));
            Assert.That(run.ExitCode, Is.EqualTo(exitCode), run.AllOutput);
        });
    }
}
