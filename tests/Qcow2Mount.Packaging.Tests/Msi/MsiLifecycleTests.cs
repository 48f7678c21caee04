using System.Text;
using System.Text.RegularExpressions;
using Qcow2Mount.Packaging.Tests.Support;
using Qcow2Mount.TestSupport;
using Qcow2Mount.TestSupport.Wine;
using static Qcow2Mount.Packaging.Tests.Msi.MsiWine;

namespace Qcow2Mount.Packaging.Tests.Msi;

/// <summary>
/// Installing, upgrading and removing the MSI with Wine's real msiexec: an upgrade replaces an older build, a downgrade is
/// refused, WinFsp is required (in the 32-bit registry view), and an uninstall leaves nothing behind.
/// Every test starts and ends with nothing installed.
/// </summary>
[TestFixture]
[NonParallelizable]
internal sealed partial class MsiLifecycleTests
{
    private TempDir _scratch = null!;

    [OneTimeSetUp]
    public void BuildPackages() => _ = PackageArtifacts.Msi;

    [SetUp]
    public void StartFromNothing()
    {
        _scratch = new TempDir("msi-lifecycle");
        SharedWine.RegisterFakeWinFsp();
        UninstallAll();
    }

    [TearDown]
    public void UninstallEverything()
    {
        UninstallAll();
        SharedWine.RegisterFakeWinFsp();
        _scratch.Dispose();
    }

    [Test]
    public void Upgrade_NewerMsi_ReplacesTheOlderInstall()
    {
        Msiexec("/i", PackageArtifacts.Msi).ThrowIfFailed();

        var run = Msiexec("/i", PackageArtifacts.NewerMsi);

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(InstalledProducts(), Is.EqualTo(new[] { PackageArtifacts.NewerVersion }));
            Assert.That(File.ReadAllText(Path.Combine(InstallDir, "README.md")), Does.EndWith(PackageArtifacts.NewerReadmeMark), "the newer build's files");
            Assert.That(RelativeFiles(InstallDir), Is.EqualTo(RelativeFiles(Extract(PackageArtifacts.NewerMsi, _scratch))));
            Assert.That(SystemPath().Split(';').Count(e => e == InstallDirWindows), Is.EqualTo(1), SystemPath());
        });
    }

    [Test]
    public void Downgrade_OlderMsiOverNewer_IsRefusedAndKeepsTheNewer()
    {
        Msiexec("/i", PackageArtifacts.NewerMsi).ThrowIfFailed();

        var run = Msiexec("/i", PackageArtifacts.Msi);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(InstallFailure), run.ToString());
            Assert.That(InstalledProducts(), Is.EqualTo(new[] { PackageArtifacts.NewerVersion }));
            Assert.That(File.ReadAllText(Path.Combine(InstallDir, "README.md")), Does.EndWith(PackageArtifacts.NewerReadmeMark), "the newer build's files stay");
        });
    }

    [Test]
    public void Install_WithoutWinFsp_IsRefusedAndInstallsNothing()
    {
        Prefix.DeleteKey(SharedWine.WinFspKey, WineRegistryView.Registry32);

        var run = Msiexec("/i", PackageArtifacts.Msi);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(InstallFailure), run.ToString());
            Assert.That(InstalledProducts(), Is.Empty);
            Assert.That(InstallDir, Does.Not.Exist);
        });
    }

    [Test]
    public void Install_WinFspRegisteredOnlyIn64BitView_IsRefused()
    {
        // WinFsp's installer is 32-bit: its key lives in the 32-bit view, and only there counts.
        Prefix.DeleteKey(SharedWine.WinFspKey, WineRegistryView.Registry32);
        Prefix.SetValue(SharedWine.WinFspKey, "InstallDir", "REG_SZ", SharedWine.WinFspInstallDir, WineRegistryView.Registry64);
        try
        {
            var run = Msiexec("/i", PackageArtifacts.Msi);

            Assert.Multiple(() =>
            {
                Assert.That(run.ExitCode, Is.EqualTo(InstallFailure), run.ToString());
                Assert.That(InstalledProducts(), Is.Empty);
            });
        }
        finally
        {
            Prefix.DeleteKey(SharedWine.WinFspKey, WineRegistryView.Registry64);
        }
    }

    [Test]
    public void Uninstall_LeavesNothingBehind()
    {
        var before = Snapshot("before");
        Msiexec("/i", PackageArtifacts.Msi).ThrowIfFailed();
        var installed = Snapshot("installed");

        var run = Msiexec("/x", PackageArtifacts.Msi);

        var after = Snapshot("after");
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(FirstDifference(installed.Files, before.Files), Is.Not.Null, "the snapshot sees the installed files");
            Assert.That(FirstDifference(installed.Registry, before.Registry), Is.Not.Null, "the snapshot sees the installed keys");
            Assert.That(FirstDifference(after.Files, before.Files), Is.Null, "files");
            Assert.That(FirstDifference(ProductData(after.Registry), ProductData(before.Registry)), Is.Null, @"HKLM\Software and HKCU\Software");
            // Wine's msi leaves the ';' it added before the entry (Windows Installer removes both); no entry is left.
            Assert.That(PathEntries(after.Path), Is.EqualTo(PathEntries(before.Path)), after.Path);
            Assert.That(PathEntries(installed.Path), Does.Contain(InstallDirWindows), "the snapshot sees the PATH entry");
        });
    }

    /// <summary>What an install may change: every file of drive C: (but temporary ones), the Software hives, and PATH.</summary>
    private (string[] Files, string[] Registry, string Path) Snapshot(string name)
    {
        // Not into links: C:\users\NAME\Documents and its siblings link to the prefix's HOME.
        var files = Directory.GetFileSystemEntries(Prefix.DriveC, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint })
            .Select(f => Path.GetRelativePath(Prefix.DriveC, f))
            .Where(f => !f.Split('/').Contains("Temp", StringComparer.OrdinalIgnoreCase))
            .ToArray();
        var registry = new List<string>();
        foreach (string hive in new[] { @"HKEY_LOCAL_MACHINE\Software", @"HKEY_CURRENT_USER\Software" })
        {
            string file = _scratch.File($"{name}-{registry.Count}.reg");
            Prefix.Run("regedit", ["/e", WinePrefix.WindowsPath(file), hive]).ThrowIfFailed();
            registry.AddRange(File.ReadAllText(file, Encoding.Unicode).Split('\n').Select(l => l.TrimEnd('\r')));
        }

        return (files, registry.ToArray(), SystemPath());
    }

    /// <summary>
    /// The lines of a .reg export but empty keys that are not a product's: Windows Installer's own bookkeeping keys
    /// (Installer\Products, UserData\S-1-5-18\Components, …) exist on every Windows, and Wine makes them, empty, at the
    /// first install in a prefix and keeps them. An empty key that names qcow2 or a product/component GUID still counts.
    /// </summary>
    private static string[] ProductData(string[] lines) =>
        lines.Where((line, i) => !(line.StartsWith('[') && (i + 1 == lines.Length || lines[i + 1].Length == 0 || lines[i + 1].StartsWith('['))
                && !ProductKey().IsMatch(line)))
            .ToArray();

    [GeneratedRegex(@"qcow2|[0-9A-F]{32}|\{[0-9A-F-]{36}\}", RegexOptions.IgnoreCase)]
    private static partial Regex ProductKey();

    /// <summary>Null when both hold the same lines, else which lines one has and the other has not (the first few).</summary>
    private static string? FirstDifference(string[] actual, string[] expected)
    {
        var added = actual.Except(expected).Take(5).ToArray();
        var removed = expected.Except(actual).Take(5).ToArray();
        return added.Length + removed.Length == 0 ? null : $"left behind: [{string.Join(", ", added)}]; gone: [{string.Join(", ", removed)}]";
    }
}
