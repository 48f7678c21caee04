using System.Runtime.Versioning;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Cli.Tests.Build;

/// <summary>
/// What build.ps1 hands to <c>dotnet</c>: a copy of build.ps1 (and the package map) in a scratch folder runs with a
/// stand-in <c>dotnet</c> first on PATH that records its arguments, so nothing is built and the real run's
/// artifacts/test-results is never touched.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
[Parallelizable(ParallelScope.All)]
[FixtureLifeCycle(LifeCycle.InstancePerTestCase)]
[UnsupportedOSPlatform("windows")] // the stand-in dotnet is a shell script
internal sealed class BuildScriptArgumentTests : IDisposable
{
    private readonly TempDir _repo = new("build-args");

    private string Log => _repo.File("dotnet-calls.txt");

    [SetUp]
    public void CopyBuildScript()
    {
        Directory.CreateDirectory(_repo.File(".ci"));
        Directory.CreateDirectory(_repo.File("fake-bin"));
        File.Copy(Path.Combine(ScriptRun.RepositoryRoot, "build.ps1"), _repo.File("build.ps1"));
        File.Copy(Path.Combine(ScriptRun.RepositoryRoot, ".ci", "packages.tsv"), _repo.File(".ci/packages.tsv"));
        string fake = _repo.File("fake-bin/dotnet");
        File.WriteAllText(fake, "#!/bin/sh\nprintf '%s\\n' \"$*\" >> \"$FAKE_DOTNET_LOG\"\nexit 0\n");
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public void Dispose() => _repo.Dispose();

    [Test]
    public void Test_ArgumentsAfterDoubleDash_ReachDotnetTest()
    {
        RunCopy("test", "--", "--filter", "TestCategory=unit");

        Assert.That(CallsOf("test"), Has.Exactly(1).EndsWith(" --filter TestCategory=unit"));
    }

    [Test]
    public void Test_ConfigurationBeforeDoubleDash_BuildsAndTestsThatConfiguration()
    {
        RunCopy("test", "-c", "Debug", "--", "--filter", "TestCategory=unit");

        Assert.Multiple(() =>
        {
            Assert.That(CallsOf("build"), Has.Exactly(1).Contains(" -c Debug "));
            Assert.That(CallsOf("test"), Has.Exactly(1).Contains(" -c Debug ").And.EndsWith(" --filter TestCategory=unit"));
        });
    }

    [Test]
    public void Test_ArgumentWithoutDoubleDash_IsAUsageErrorNotDropped()
    {
        var run = RunCopy("test", "--filter", "TestCategory=unit");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2));
            Assert.That(run.AllOutput, Does.Contain("unexpected argument '--filter'").And.Contain("after --"));
            Assert.That(CallsOf("test"), Is.Empty, "no test ran");
        });
    }

    [Test]
    public void Publish_DebugConfiguration_PublishesDebugApartFromRelease()
    {
        var run = RunCopy("publish", "-c", "Debug");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.AllOutput);
            Assert.That(CallsOf("publish"), Has.Exactly(1).Contains(" -c Debug ").And.Contains("publish-Debug"));
        });
    }

    [Test]
    public void Publish_NoConfiguration_PublishesRelease()
    {
        var run = RunCopy("publish");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.AllOutput);
            Assert.That(CallsOf("publish"), Has.Exactly(1).Contains(" -c Release ").And.Not.Contains("publish-Debug"));
        });
    }

    [Test]
    public void Deps_EverythingInstalled_ListsExactlyThePackagesOfTheMap()
    {
        var run = RunCopy("deps");
        string present = run.Stdout.Single(l => l.StartsWith("deps: system packages present (", StringComparison.Ordinal));
        var listed = present["deps: system packages present (".Length..^1].Split(' ');

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.AllOutput);
            Assert.That(listed, Is.EquivalentTo(RequiredTools.PackageMap.Values.Distinct()), "build.ps1 deps installs what .ci/packages.tsv lists");
            Assert.That(CallsOf("tool"), Has.Exactly(1).EqualTo("tool restore"));
        });
    }

    /// <summary>The real dotnet (by its full path) runs pwsh on the copy; the copy's own dotnet calls meet the stand-in.</summary>
    private ScriptRun RunCopy(params string[] args)
    {
        string dotnet = RequiredTools.FindOnPath("dotnet") ?? throw new InvalidOperationException("dotnet is not on PATH");
        var environment = new Dictionary<string, string>
        {
            ["PATH"] = _repo.File("fake-bin") + ":" + Environment.GetEnvironmentVariable("PATH"),
            ["FAKE_DOTNET_LOG"] = Log,
        };
        return ScriptRun.Start(new FileInfo(dotnet).ResolveLinkTarget(true)?.FullName ?? dotnet, ["pwsh", "-NoProfile", "-File", _repo.File("build.ps1"), .. args], ScriptRun.RepositoryRoot, environment);
    }

    /// <summary>The stand-in's recorded command lines for one dotnet verb.</summary>
    private List<string> CallsOf(string verb) =>
        File.Exists(Log) ? File.ReadAllLines(Log).Where(l => l.StartsWith(verb + " ", StringComparison.Ordinal)).ToList() : [];
}
