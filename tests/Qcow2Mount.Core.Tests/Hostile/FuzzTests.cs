using Qcow2Mount.Fuzz;

namespace Qcow2Mount.Core.Tests.Hostile;

/// <summary>
/// The fuzz target in the test suite: every saved crash input (Hostile/Regressions) must now be handled, and a
/// short deterministic fuzzing run over the seed corpus must find nothing. Long runs: fuzz/run.sh.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class FuzzTests
{
    private static readonly string RepositoryRoot = FindRoot();

    private static IEnumerable<TestCaseData> Regressions() =>
        Directory.EnumerateFiles(Path.Combine(RepositoryRoot, "tests", "Qcow2Mount.Core.Tests", "Hostile", "Regressions"), "*.qcow2")
            .Order(StringComparer.Ordinal)
            .Select(f => new TestCaseData(f).SetArgDisplayNames(Path.GetFileName(f)));

    [TestCaseSource(nameof(Regressions))]
    public void FuzzTarget_SavedCrashInput_IsHandled(string file)
    {
        var input = File.ReadAllBytes(file);
        Watchdog.Run(() => Assert.DoesNotThrow(() => FuzzTarget.Run(input)));
    }

    [Test]
    public void MutationFuzzer_TenSeconds_FindsNothing()
    {
        var seeds = Directory.EnumerateFiles(Path.Combine(RepositoryRoot, "fuzz", "seeds"), "*.qcow2")
            .Order(StringComparer.Ordinal)
            .Select(File.ReadAllBytes)
            .Concat([new ImageBuilder { Compressed = true, Snapshot = true }.Build(), new ImageBuilder { ClusterBits = 14, ExtendedL2 = true, Compressed = true, CompressionType = 1 }.Build()])
            .ToList();
        string findings = TempDir.Create("fuzz");
        FuzzReport? report = null;
        try
        {
            Watchdog.Run(
                () => report = MutationFuzzer.Run(seeds, new FuzzSettings
                {
                    Seed = 20261125,
                    Duration = TimeSpan.FromSeconds(10),
                    HangTimeout = TimeSpan.FromHours(1), // the watchdog above fails the test instead
                    FindingsDirectory = findings,
                }),
                TimeSpan.FromSeconds(60));
            Assert.Multiple(() =>
            {
                Assert.That(report!.Executions, Is.GreaterThan(100));
                Assert.That(report.Findings, Is.Empty, string.Join(Environment.NewLine, report.Findings.Select(f => $"{f.Key}: {f.Value}")));
            });
        }
        finally
        {
            if (report is { Crashes: 0 })
            {
                TempDir.Delete(findings);
            }
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (Directory.Exists(Path.Combine(dir.FullName, "fuzz", "seeds")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException("repository root (with fuzz/seeds) not found above " + AppContext.BaseDirectory);
    }
}
