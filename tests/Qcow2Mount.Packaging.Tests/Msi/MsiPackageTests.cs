using Qcow2Mount.Packaging.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Packaging.Tests.Msi;

/// <summary>
/// The MSI that <c>build.ps1 package</c> builds, read table by table with msitools: what Windows Installer will do with it.
/// (What it does under Wine's msiexec is <see cref="MsiInstallTests"/>.)
/// </summary>
[TestFixture]
internal sealed class MsiPackageTests
{
    private const string UpgradeCode = "{E1BFC445-77F3-498A-895B-F725E5030C33}";

    [Test]
    public void Package_Is64BitAndCarriesTheProjectVersion()
    {
        var properties = MsiTable.Read(PackageArtifacts.Msi, "Property").AsMap();
        string summary = ProcessRunner.Run("msiinfo", ["suminfo", PackageArtifacts.Msi]).StandardOutput;

        Assert.Multiple(() =>
        {
            Assert.That(summary, Does.Contain("Template: x64;1033"));
            Assert.That(properties["ProductName"], Is.EqualTo("Qcow2Mount"));
            Assert.That(properties["ProductVersion"], Is.EqualTo(PackageArtifacts.MsiVersion));
            Assert.That(properties["UpgradeCode"], Is.EqualTo(UpgradeCode));
            Assert.That(properties["ALLUSERS"], Is.EqualTo("1"), "a per-machine install");
        });
    }

    [Test]
    public void Upgrade_FindsOlderAndNewerInstallsOfTheFixedUpgradeCode()
    {
        var upgrade = MsiTable.Read(PackageArtifacts.Msi, "Upgrade");
        var launch = MsiTable.Read(PackageArtifacts.Msi, "LaunchCondition").AsMap();
        var sequence = MsiTable.Read(PackageArtifacts.Msi, "InstallExecuteSequence").AsMap();

        Assert.Multiple(() =>
        {
            Assert.That(upgrade.Rows.Select(r => r["UpgradeCode"]), Is.All.EqualTo(UpgradeCode));
            Assert.That(upgrade.Where("ActionProperty", "WIX_UPGRADE_DETECTED").Single()["VersionMax"], Is.EqualTo(PackageArtifacts.MsiVersion));
            Assert.That(upgrade.Where("ActionProperty", "WIX_DOWNGRADE_DETECTED").Single()["VersionMin"], Is.EqualTo(PackageArtifacts.MsiVersion));
            Assert.That(launch, Does.ContainKey("NOT WIX_DOWNGRADE_DETECTED"));
            Assert.That(sequence, Does.ContainKey("RemoveExistingProducts"));
        });
    }

    [Test]
    public void LaunchCondition_WithoutWinFsp_SaysWhereToGetIt()
    {
        var launch = MsiTable.Read(PackageArtifacts.Msi, "LaunchCondition").AsMap();
        var locator = MsiTable.Read(PackageArtifacts.Msi, "RegLocator").Where("Signature_", "WinFspInstallDir").Single();
        var search = MsiTable.Read(PackageArtifacts.Msi, "AppSearch").AsMap();

        Assert.Multiple(() =>
        {
            Assert.That(launch["Installed OR WINFSPDIR"], Does.Contain("WinFsp").And.Contain("https://winfsp.dev/rel/"));
            Assert.That(search["WINFSPDIR"], Is.EqualTo("WinFspInstallDir"));
            Assert.That(locator["Root"], Is.EqualTo("2"), "HKEY_LOCAL_MACHINE");
            Assert.That(locator["Key"], Is.EqualTo(@"SOFTWARE\WinFsp"));
            Assert.That(locator["Name"], Is.EqualTo("InstallDir"));
            Assert.That(locator["Type"], Is.EqualTo("2"), "a raw value in the 32-bit view (no msidbLocatorType64bit = 16)");
        });
    }

    [Test]
    public void Environment_AppendsTheInstallFolderToTheSystemPathUntilUninstall()
    {
        var row = MsiTable.Read(PackageArtifacts.Msi, "Environment").Rows.Single();
        var sequence = MsiTable.Read(PackageArtifacts.Msi, "InstallExecuteSequence").AsMap();
        var components = MsiTable.Read(PackageArtifacts.Msi, "Component").Rows.Select(r => r["Component"]);

        Assert.Multiple(() =>
        {
            // '=' set on install, '-' remove on uninstall, '*' the system (not the user) environment, in any order.
            Assert.That(row["Name"].TrimStart('=', '-', '*'), Is.EqualTo("PATH"));
            Assert.That(row["Name"].TakeWhile(c => c is '=' or '-' or '*'), Is.EquivalentTo("=-*"));
            Assert.That(row["Value"], Is.EqualTo("[~];[INSTALLDIR]"), "appended with ';' as separator");
            Assert.That(components, Does.Contain(row["Component_"]));
            Assert.That(sequence, Does.ContainKey("WriteEnvironmentStrings").And.ContainKey("RemoveEnvironmentStrings"));
        });
    }

    [Test]
    public void Registry_AssociatesQcow2WithThreeVerbsAndAnIcon()
    {
        var rows = MsiTable.Read(PackageArtifacts.Msi, "Registry").Rows
            .Where(r => r["Root"] == "2" && r["Key"].StartsWith(@"Software\Classes\", StringComparison.Ordinal))
            .ToDictionary(r => (r["Key"][@"Software\Classes\".Length..], r["Name"]), r => r["Value"]);
        const string exe = "\"[INSTALLDIR]qcow2mount.exe\"";

        Assert.Multiple(() =>
        {
            Assert.That(rows[(".qcow2", "")], Is.EqualTo("Qcow2Mount.Image"));
            Assert.That(rows[(@".qcow2\OpenWithProgids", "Qcow2Mount.Image")], Is.Empty);
            Assert.That(rows[(@"Qcow2Mount.Image\DefaultIcon", "")], Is.EqualTo("\"[INSTALLDIR]qcow2mount.ico\",0"));
            Assert.That(rows[(@"Qcow2Mount.Image\shell", "")], Is.EqualTo("open"), "the default verb");
            Assert.That(rows[(@"Qcow2Mount.Image\shell\open", "")], Is.EqualTo("Mount"));
            Assert.That(rows[(@"Qcow2Mount.Image\shell\open\command", "")], Is.EqualTo(exe + " \"%1\""));
            Assert.That(rows[(@"Qcow2Mount.Image\shell\mountreadonly", "")], Is.EqualTo("Mount read-only"));
            Assert.That(rows[(@"Qcow2Mount.Image\shell\mountreadonly\command", "")], Is.EqualTo(exe + " --read-only \"%1\""));
            Assert.That(rows[(@"Qcow2Mount.Image\shell\unmount", "")], Is.EqualTo("Unmount"));
            Assert.That(rows[(@"Qcow2Mount.Image\shell\unmount\command", "")], Is.EqualTo(exe + " unmount \"%1\""));
        });
    }

    [Test]
    public void Icon_IsTheCommittedIconForTheShortcutAndAddRemovePrograms()
    {
        using var dir = new TempDir("msi-icon");
        // msiinfo extract writes the stream's bytes to stdout.
        ProcessRunner.Run("sh", ["-c", "msiinfo extract \"$1\" Icon.qcow2mount.ico > \"$2\"", "sh", PackageArtifacts.Msi, dir.File("icon.ico")]);
        byte[] icon = File.ReadAllBytes(dir.File("icon.ico"));
        var properties = MsiTable.Read(PackageArtifacts.Msi, "Property").AsMap();
        var shortcut = MsiTable.Read(PackageArtifacts.Msi, "Shortcut").Rows.Single();

        Assert.Multiple(() =>
        {
            Assert.That(icon, Is.EqualTo(File.ReadAllBytes(Repository.CommittedIcon)));
            Assert.That(properties["ARPPRODUCTICON"], Is.EqualTo("qcow2mount.ico"));
            Assert.That(shortcut["Icon_"], Is.EqualTo("qcow2mount.ico"));
            Assert.That(shortcut["Directory_"], Is.EqualTo("ProgramMenuFolder"));
        });
    }

    [Test]
    public void Files_AreTheTrimmedWinX64PublishTheIconAndTheReadme()
    {
        using var dir = new TempDir("msiextract");
        ProcessRunner.Run("msiextract", ["-C", dir.Path, PackageArtifacts.Msi]);
        string installDir = Path.Combine(dir.Path, "Qcow2Mount"); // msiextract leaves out ProgramFiles64Folder
        var names = Directory.GetFiles(installDir).Select(Path.GetFileName).ToArray();

        Assert.Multiple(() =>
        {
            Assert.That(names, Is.SupersetOf(new[] { "qcow2mount.exe", "qcow2mount.dll", "coreclr.dll", "Qcow2Mount.Core.dll", "qcow2mount.ico", "README.md" }));
            Assert.That(names, Has.None.EndsWith(".pdb"));
            Assert.That(File.ReadAllBytes(Path.Combine(installDir, "qcow2mount.ico")), Is.EqualTo(File.ReadAllBytes(Repository.CommittedIcon)));
            Assert.That(PeMachine(Path.Combine(installDir, "qcow2mount.exe")), Is.EqualTo(0x8664), "an x86-64 Windows program");
        });
    }

    /// <summary>The Machine field of a PE file's COFF header (0x8664 = x86-64).</summary>
    private static int PeMachine(string path)
    {
        byte[] pe = File.ReadAllBytes(path);
        int header = BitConverter.ToInt32(pe, 0x3C);
        Assert.That(pe.AsSpan(header, 4).ToArray(), Is.EqualTo("PE\0\0"u8.ToArray()));
        return BitConverter.ToUInt16(pe, header + 4);
    }
}
