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
}
