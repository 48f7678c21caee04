using System.Text.RegularExpressions;

namespace Qcow2Mount.Cli.Tests.Build;

/// <summary>.ci/packages.tsv, the one list of which Debian package provides which tool, and the code that reads it.</summary>
[TestFixture]
[Category(TestCategories.Unit)]
internal sealed partial class PackageMapTests
{
    [Test]
    public void Map_EveryToolATestRequires_IsListed()
    {
        var required = Directory.EnumerateFiles(Path.Combine(ScriptRun.RepositoryRoot, "tests"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal))
            .SelectMany(f => RequireCall().Matches(File.ReadAllText(f)))
            .SelectMany(m => Literal().Matches(m.Groups[1].Value).Select(l => l.Groups[1].Value))
            .Where(t => !t.StartsWith("/nonexistent/", StringComparison.Ordinal))
            .Distinct()
            .ToList();

        Assert.Multiple(() =>
        {
            Assert.That(required, Has.Count.GreaterThan(10), "RequiredTools.Require calls found in the tests");
            Assert.That(required.Where(t => !RequiredTools.PackageMap.ContainsKey(t)), Is.Empty, "tools the tests require that .ci/packages.tsv does not list");
        });
    }

    [Test]
    public void Map_LosetupAndQemuTools_ComeFromTheirDebian12Packages()
    {
        Assert.Multiple(() =>
        {
            Assert.That(RequiredTools.PackageMap["losetup"], Is.EqualTo("mount"), "Debian 12 moved losetup from util-linux to mount");
            Assert.That(RequiredTools.PackageMap["qemu-img"], Is.EqualTo("qemu-utils"));
            Assert.That(RequiredTools.PackageMap["qemu-storage-daemon"], Is.EqualTo("qemu-system-common"));
        });
    }

    [Test]
    public void BenchScript_LooksPackagesUpInTheMap()
    {
        string bench = File.ReadAllText(Path.Combine(ScriptRun.RepositoryRoot, "scripts", "bench.sh"));

        Assert.Multiple(() =>
        {
            Assert.That(bench, Does.Contain("$ROOT/" + RequiredTools.PackageMapPath));
            Assert.That(bench, Does.Not.Contain("losetup:"), "no tool:package pairs of its own");
        });
    }

    [GeneratedRegex(@"RequiredTools\.Require\(([^()]*)\)")]
    private static partial Regex RequireCall();

    [GeneratedRegex("\"([^\"]+)\"")]
    private static partial Regex Literal();
}
