using System.Text.RegularExpressions;

namespace Qcow2Mount.Cli.Tests.Build;

/// <summary>README.md against what the tree really has: the build targets and the qcow2mount commands.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
internal sealed partial class ReadmeTests
{
    private static readonly string Readme = File.ReadAllText(Path.Combine(ScriptRun.RepositoryRoot, "README.md"));

    [Test]
    public void BuildTargetTable_ListsExactlyTheTargetsOfBuildScript()
    {
        var run = ScriptRun.BuildScript("help");
        var helpTargets = ListedNames(run.Stdout).Where(t => t != "help");
        var readmeTargets = ReadmeTargetRow().Matches(Readme).Select(m => m.Groups[1].Value);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero);
            Assert.That(readmeTargets, Is.EquivalentTo(helpTargets));
        });
    }

    [Test]
    public void CommandTable_MarksExactlyTheCommandsQcow2mountListsAsPresent()
    {
        var run = ScriptRun.Start("dotnet", [Path.Combine(TestContext.CurrentContext.TestDirectory, "qcow2mount.dll"), "--help"], ScriptRun.RepositoryRoot);
        var rows = ReadmeCommandRow().Matches(Readme).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        var present = rows.Where(r => r.Value == "yes").Select(r => r.Key);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.AllOutput);
            Assert.That(rows.Values, Is.All.AnyOf("yes", "planned"), "the Status column holds 'yes' or 'planned'");
            Assert.That(present, Is.EquivalentTo(ListedNames(run.Stdout)), "README's commands marked 'yes' vs. qcow2mount --help");
        });
    }

    /// <summary>
    /// The benchmark summary is written by scripts/bench/readme_summary.sh from the full run it names, never by hand:
    /// running the script again over that run's committed rows gives the README as it is.
    /// </summary>
    [Test]
    public void BenchSummary_IsWhatTheScriptWritesFromTheRunItNames()
    {
        var named = BenchSummaryRun().Match(Readme);
        Assert.That(named.Success, Is.True, "README.md has no bench-summary block naming its run");
        string tsv = Path.Combine(ScriptRun.RepositoryRoot, "benchmarks", "results", named.Groups[1].Value + ".tsv");
        string copy = Path.Combine(Path.GetTempPath(), $"readme-summary-{Guid.NewGuid():N}.md");
        File.WriteAllText(copy, Readme);
        try
        {
            var run = ScriptRun.Start("bash", [Path.Combine(ScriptRun.RepositoryRoot, "scripts", "bench", "readme_summary.sh"), tsv, copy], ScriptRun.RepositoryRoot);
            Assert.Multiple(() =>
            {
                Assert.That(run.ExitCode, Is.Zero, run.AllOutput);
                Assert.That(File.ReadAllText(copy), Is.EqualTo(Readme), "README.md's summary differs from the script's output for its run");
            });
        }
        finally
        {
            File.Delete(copy);
        }
    }

    // Both help texts list one name per line, indented by two spaces: "  deps     install missing …".
    private static IEnumerable<string> ListedNames(IEnumerable<string> helpLines) =>
        helpLines.Select(l => ListedName().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value);

    [GeneratedRegex(@"^  ([a-z][a-z0-9-]*)\s{2,}\S")]
    private static partial Regex ListedName();

    // "| `summary [DIR]` | …" rows of the build target table.
    [GeneratedRegex(@"^\| `([a-z]+)(?: \[[A-Z]+\])?` \|", RegexOptions.Multiline)]
    private static partial Regex ReadmeTargetRow();

    // "| `qcow2mount [mount] [options] IMAGE…` | … | planned |" rows of the command table; the verb may be optional.
    [GeneratedRegex(@"^\| `qcow2mount \[?([a-z][a-z0-9-]*)\]?[ `].*\| (\w+) \|$", RegexOptions.Multiline)]
    private static partial Regex ReadmeCommandRow();

    [GeneratedRegex(@"written by scripts/bench\.sh from benchmarks/results/(\S+)\.tsv after a full run")]
    private static partial Regex BenchSummaryRun();
}
