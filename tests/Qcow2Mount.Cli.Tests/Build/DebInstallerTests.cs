namespace Qcow2Mount.Cli.Tests.Build;

/// <summary>installer/deb: the control template build.ps1 fills in and the files it packages.</summary>
[TestFixture]
[Category(TestCategories.Unit)]
internal sealed class DebInstallerTests
{
    private static readonly string InstallerDir = Path.Combine(ScriptRun.RepositoryRoot, "installer", "deb");
    private static readonly string[] FuseRuntime = ["fuse3", "libfuse3-3"];

    [Test]
    public void Control_DependsOnFuse3AndItsLibrary()
    {
        var fields = ReadControl();

        Assert.That(fields["Depends"].Split(',', StringSplitOptions.TrimEntries), Is.SupersetOf(FuseRuntime));
    }

    /// <summary>zstd clusters go through the system libzstd.so.1 (ZstdSharp, where it is missing, took 1.4× the CPU for a whole convert -c).</summary>
    [Test]
    public void Control_DependsOnLibzstd1()
    {
        var fields = ReadControl();

        Assert.That(fields["Depends"].Split(',', StringSplitOptions.TrimEntries), Does.Contain("libzstd1"));
    }

    [Test]
    public void Control_LeavesVersionArchitectureAndSizeToTheBuild()
    {
        var fields = ReadControl();

        Assert.Multiple(() =>
        {
            Assert.That(fields["Package"], Is.EqualTo("qcow2mount"));
            Assert.That(fields["Version"], Is.EqualTo("@VERSION@"));
            Assert.That(fields["Architecture"], Is.EqualTo("@ARCH@"));
            Assert.That(fields["Installed-Size"], Is.EqualTo("@INSTALLED_SIZE@"));
            Assert.That(fields, Does.ContainKey("Maintainer").And.ContainKey("Description"));
        });
    }

    [TestCase("copyright")]
    [TestCase("qcow2mount.1")]
    public void PackagedFile_Exists(string name)
    {
        Assert.That(Path.Combine(InstallerDir, name), Does.Exist);
    }

    private static Dictionary<string, string> ReadControl() =>
        File.ReadAllLines(Path.Combine(InstallerDir, "control"))
            .Where(l => l.Length > 0 && !char.IsWhiteSpace(l[0]))
            .Select(l => l.Split(':', 2))
            .ToDictionary(p => p[0], p => p[1].Trim(), StringComparer.Ordinal);
}
