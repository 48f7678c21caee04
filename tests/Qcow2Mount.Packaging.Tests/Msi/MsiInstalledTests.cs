using System.Text.Json.Nodes;
using Qcow2Mount.Packaging.Tests.Support;
using Qcow2Mount.TestSupport;
using Qcow2Mount.TestSupport.Wine;
using static Qcow2Mount.Packaging.Tests.Msi.MsiWine;

namespace Qcow2Mount.Packaging.Tests.Msi;

/// <summary>
/// The built MSI installed once, silently, by Wine's real msiexec (in the shared prefix with a fake WinFsp registration),
/// then looked at: the files, the PATH entry, the program running, the Start-menu entry, the .qcow2 association with its
/// verbs and icon, and the shell running qcow2mount for a .qcow2. Uninstalled after the last test.
/// </summary>
[TestFixture]
[NonParallelizable]
internal sealed class MsiInstalledTests
{
    // Runs one shell verb on a file the way Explorer's context menu does (ShellExecute with the verb; "" = the default).
    private const string ShellVerbScript = """
        var a = WScript.Arguments;
        new ActiveXObject("Shell.Application").ShellExecute(a(0), "", "", a.length > 1 ? a(1) : "", 0);
        """;

    private TempDir _scratch = null!;
    private string _pathBefore = null!;
    private WineResult _install = null!;

    [OneTimeSetUp]
    public void Install()
    {
        _scratch = new TempDir("msi-installed");
        _ = PackageArtifacts.Msi;
        SharedWine.RegisterFakeWinFsp();
        UninstallAll();
        _pathBefore = SystemPath();
        _install = Msiexec("/i", PackageArtifacts.Msi);
    }

    [OneTimeTearDown]
    public void Uninstall()
    {
        Prefix.EndAllPrograms();
        UninstallAll();
        _scratch.Dispose();
    }

    [SetUp]
    public void RequireTheInstall() => Assert.That(_install.ExitCode, Is.Zero, $"msiexec /i failed: {_install}");

    [Test]
    public void Install_Silently_PutsEveryPackagedFileIntoProgramFiles()
    {
        string expected = Extract(PackageArtifacts.Msi, _scratch);

        Assert.That(RelativeFiles(InstallDir), Is.EqualTo(RelativeFiles(expected)));
        Assert.Multiple(() =>
        {
            foreach (string file in RelativeFiles(expected))
            {
                Assert.That(File.ReadAllBytes(Path.Combine(InstallDir, file)), Is.EqualTo(File.ReadAllBytes(Path.Combine(expected, file))), file);
            }
        });
    }

    [Test]
    public void Install_AppendsTheInstallFolderToTheSystemPath_SoQcow2mountRunsByName()
    {
        var help = Prefix.Run("cmd", ["/c", "qcow2mount", "--help"]);

        Assert.Multiple(() =>
        {
            Assert.That(SystemPath(), Is.EqualTo(_pathBefore + ";" + InstallDirWindows));
            Assert.That(help.ExitCode, Is.Zero, help.ToString());
            Assert.That(help.StandardOutput, Does.Contain("Commands:").And.Contain("  info "), help.ToString());
        });
    }

    [Test]
    public void InstalledProgram_InfoOnAQemuImage_MatchesQemuImg()
    {
        string image = _scratch.File("small.qcow2");
        ProcessRunner.Run("qemu-img", ["create", "-q", "-f", "qcow2", "-o", "cluster_size=65536", image, "64M"]);
        ProcessRunner.Run("qemu-io", ["-c", "write -P 0x5a 1M 1M", image]);

        var ours = Prefix.Run(ExeWindows, ["info", "--output", "json", WinePrefix.WindowsPath(image)]);
        var qemu = ProcessRunner.Run("qemu-img", ["info", "--output", "json", image]);

        Assert.That(ours.ExitCode, Is.Zero, ours.ToString());
        var a = JsonNode.Parse(ours.StandardOutput)!;
        var b = JsonNode.Parse(qemu.StandardOutput)!;
        Assert.Multiple(() =>
        {
            foreach (string key in new[] { "virtual-size", "cluster-size", "format", "format-specific", "dirty-flag" })
            {
                Assert.That(JsonNode.DeepEquals(a[key], b[key]), Is.True, $"{key}: ours {a[key]?.ToJsonString()}, qemu-img {b[key]?.ToJsonString()}");
            }
        });
    }

    [Test]
    public void Install_AddsAStartMenuEntryThatOpensACommandPromptWithTheHelp()
    {
        var links = Directory.GetFiles(Prefix.DriveC, "Qcow2Mount.lnk", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint })
            .Where(p => p.Contains("/Start Menu/Programs/", StringComparison.Ordinal))
            .ToArray();

        Assert.That(links, Has.Length.EqualTo(1));
        var link = ShellLinkFile.Read(links[0]);
        string iconFile = link.IconLocation?.Split(',')[0] ?? "";
        Assert.Multiple(() =>
        {
            Assert.That(link.TargetPath, Is.EqualTo(@"C:\windows\system32\cmd.exe").IgnoreCase);
            Assert.That(link.Arguments, Is.EqualTo($"/k \"\"{ExeWindows}\" --help\""));
            Assert.That(link.WorkingDirectory, Is.EqualTo(InstallDirWindows));
            Assert.That(File.ReadAllBytes(Prefix.UnixPath(iconFile)), Is.EqualTo(File.ReadAllBytes(Repository.CommittedIcon)), link.IconLocation);
        });
    }

    [Test]
    public void Install_RegistersQcow2WithTheThreeVerbsAndTheIcon()
    {
        var extension = Prefix.QueryTree(@"HKCR\.qcow2");
        var openWith = Prefix.QueryKey(@"HKLM\Software\Classes\.qcow2\OpenWithProgids");
        var progId = Prefix.QueryTree(@"HKCR\Qcow2Mount.Image");
        string? Default(string subkey) => progId.TryGetValue(subkey, out var key) ? key[""] : null;
        string icon = Default("DefaultIcon") ?? "";

        Assert.Multiple(() =>
        {
            Assert.That(extension[""][""], Is.EqualTo("Qcow2Mount.Image"));
            Assert.That(openWith?.Values.Select(v => v.Name), Does.Contain("Qcow2Mount.Image"));
            Assert.That(Default(""), Is.EqualTo("QEMU disk image"));
            Assert.That(Default("shell"), Is.EqualTo("open"));
            Assert.That(Default(@"shell\open"), Is.EqualTo("Mount"));
            Assert.That(Default(@"shell\open\command"), Is.EqualTo($"\"{ExeWindows}\" \"%1\""));
            Assert.That(Default(@"shell\mountreadonly"), Is.EqualTo("Mount read-only"));
            Assert.That(Default(@"shell\mountreadonly\command"), Is.EqualTo($"\"{ExeWindows}\" --read-only \"%1\""));
            Assert.That(Default(@"shell\unmount"), Is.EqualTo("Unmount"));
            Assert.That(Default(@"shell\unmount\command"), Is.EqualTo($"\"{ExeWindows}\" unmount \"%1\""));
            Assert.That(icon, Is.EqualTo($"\"{InstallDirWindows}qcow2mount.ico\",0"));
            Assert.That(File.ReadAllBytes(Prefix.UnixPath(icon.Split(',')[0].Trim('"'))), Is.EqualTo(File.ReadAllBytes(Repository.CommittedIcon)));
        });
    }

    [Test]
    public void DoubleClick_Qcow2File_StartsQcow2mountWithTheFile()
    {
        string image = _scratch.File("my disk.qcow2");
        ProcessRunner.Run("qemu-img", ["create", "-q", "-f", "qcow2", image, "16M"]);

        // `start FILE` opens a file as a double-click does: through its association (no /wait: the program may stay).
        var start = Prefix.Run("start", ["/unix", image], environment: Trace);

        Assert.That(start.CreatedProcesses, Does.Contain($"\"{ExeWindows}\" \"{WinePrefix.WindowsPath(image)}\""), start.StandardError);
    }

    [TestCase("", "")]
    [TestCase("open", "")]
    [TestCase("mountreadonly", "--read-only ")]
    [TestCase("unmount", "unmount ")]
    public void ShellVerb_OnAQcow2File_RunsQcow2mountWithItsArguments(string verb, string arguments)
    {
        string image = _scratch.File("disk.qcow2");
        if (!File.Exists(image))
        {
            ProcessRunner.Run("qemu-img", ["create", "-q", "-f", "qcow2", image, "16M"]);
            File.WriteAllText(_scratch.File("verb.js"), ShellVerbScript);
        }

        var run = Prefix.Run("cscript", ["//nologo", WinePrefix.WindowsPath(_scratch.File("verb.js")), WinePrefix.WindowsPath(image), verb], environment: Trace);

        Assert.That(run.CreatedProcesses, Does.Contain($"\"{ExeWindows}\" {arguments}\"{WinePrefix.WindowsPath(image)}\""), run.StandardError);
    }
}
