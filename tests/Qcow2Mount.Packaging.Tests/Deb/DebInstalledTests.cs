using System.Security.Cryptography;
using Qcow2Mount.Packaging.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Packaging.Tests.Deb;

/// <summary>
/// The .deb that <c>build.ps1 package</c> builds, installed on this machine with dpkg -i: the double-click on a .qcow2
/// (the desktop entry as the default handler of application/x-qemu-disk, its Exec line mounting a real image under
/// $XDG_RUNTIME_DIR and opening the folder). Removed after the last test. xdg-open is a stand-in that records its
/// argument: there is no desktop session here.
/// </summary>
[TestFixture]
[NonParallelizable]
internal sealed class DebInstalledTests
{
    private const string MimeType = "application/x-qemu-disk";

    private TempDir _dir = null!;

    [OneTimeSetUp]
    public void Install()
    {
        _ = PackageArtifacts.Deb;
        DebPackage.RequireNotInstalled();
        DebPackage.Install();
    }

    [OneTimeTearDown]
    public void Remove()
    {
        if (DebPackage.IsInstalled())
        {
            DebPackage.Remove();
        }
    }

    [SetUp]
    public void CreateScratch()
    {
        _dir = new TempDir("deb");
        Directory.CreateDirectory(_dir.File("run"));
        Directory.CreateDirectory(_dir.File("bin"));
        File.WriteAllText(_dir.File("bin/xdg-open"), $"#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{_dir.File("opened")}'\n");
        ProcessRunner.Run("chmod", ["755", _dir.File("bin/xdg-open")]);
    }

    [TearDown]
    public void TakeDown()
    {
        Mounts.TakeDown(_dir.Path, mountPoint => ProcessRunner.Capture("/usr/bin/qcow2mount", ["unmount", mountPoint]));
        _dir.Dispose();
    }

    [Test]
    public void Package_HoldsTheProgramTheDesktopEntryAndTheIconAtTheProjectVersion()
    {
        string version = ProcessRunner.Run("dpkg-deb", ["-f", PackageArtifacts.Deb, "Version"]).StandardOutput.Trim();

        Assert.Multiple(() =>
        {
            Assert.That(version, Is.EqualTo(PackageArtifacts.ProjectVersion.Replace('-', '~')));
            Assert.That(DebPackage.Paths(), Is.SupersetOf(new[] { "/usr/bin/qcow2mount", DebPackage.DesktopFile, "/usr/share/icons/hicolor/scalable/apps/qcow2mount.svg" }));
        });
    }

    [Test]
    public void Install_MakesTheDesktopEntryTheDefaultForQcow2Files()
    {
        string image = Image();

        Assert.Multiple(() =>
        {
            // shared-mime-info (Debian 12: 2.2) knows *.qcow2 and the QFI magic as application/x-qemu-disk: no MIME XML of our own.
            Assert.That(ProcessRunner.Run("xdg-mime", ["query", "filetype", image]).StandardOutput.Trim(), Is.EqualTo(MimeType));
            Assert.That(DebPackage.DefaultHandler(MimeType), Is.EqualTo("qcow2mount.desktop"));
            Assert.That(ProcessRunner.Capture("desktop-file-validate", [DebPackage.DesktopFile]).ExitCode, Is.Zero);
        });
    }

    [Test]
    public void DesktopEntry_ExecLine_MountsTheImageOpensTheFolderAndASecondOpenOnlyOpensIt()
    {
        string image = Image();
        string[] exec = DesktopEntry.ExecFor(DesktopEntry.Read(DebPackage.DesktopFile)["Desktop Entry", "Exec"], image);
        string folder = _dir.File("run/qcow2mount/disk");

        var first = Run(exec);
        var second = Run(exec);

        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(second.ExitCode, Is.Zero, second.ToString());
            Assert.That(Mounts.Under(_dir.Path).Select(m => (m.MountPoint, m.Type, m.Source)), Is.EqualTo(new[] { (folder, "fuse.qcow2mount", image) }));
            Assert.That(Mounts.Under(_dir.Path).Single().Options.Split(','), Does.Contain("rw"));
            Assert.That(File.ReadAllLines(_dir.File("opened")), Is.EqualTo(new[] { folder, folder }));
            Assert.That(Sha256(Path.Combine(folder, "disk.raw")), Is.EqualTo(Sha256(RawTwin(image))));
        });

        var unmount = ProcessRunner.Capture("/usr/bin/qcow2mount", ["unmount", folder]);
        Assert.Multiple(() =>
        {
            Assert.That(unmount.ExitCode, Is.Zero, unmount.ToString());
            Assert.That(Mounts.Under(_dir.Path), Is.Empty);
            Assert.That(ProcessRunner.Capture("qemu-img", ["check", image]).ExitCode, Is.Zero, "the image is consistent after the unmount");
        });
    }

    [Test]
    public void DesktopEntry_ReadOnlyAction_MountsTheImageReadOnly()
    {
        string image = Image();
        string[] exec = DesktopEntry.ExecFor(DesktopEntry.Read(DebPackage.DesktopFile)["Desktop Action read-only", "Exec"], image);

        var run = Run(exec);

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(Mounts.Under(_dir.Path).Single().Options.Split(','), Does.Contain("ro"));
    }

    /// <summary>Runs an Exec line as the desktop would (program looked up on PATH), in the test's session folders.</summary>
    private ProcessResult Run(string[] exec)
    {
        var environment = new Dictionary<string, string?>
        {
            ["XDG_RUNTIME_DIR"] = _dir.File("run"),
            ["PATH"] = $"{_dir.File("bin")}:/usr/bin:/bin",
        };
        string program = environment["PATH"]!.Split(':').Select(d => Path.Combine(d, exec[0])).First(File.Exists);
        Assert.That(program, Is.EqualTo("/usr/bin/qcow2mount"), "the installed program");
        return ProcessRunner.Capture(program, exec[1..], environment, TimeSpan.FromMinutes(2));
    }

    private string Image()
    {
        string image = _dir.File("disk.qcow2");
        ProcessRunner.Run("qemu-img", ["create", "-q", "-f", "qcow2", image, "32M"]);
        ProcessRunner.Run("qemu-io", ["-c", "write -P 0x3c 4M 1M", image]);
        return image;
    }

    private string RawTwin(string image)
    {
        string raw = _dir.File("twin.raw");
        ProcessRunner.Run("qemu-img", ["convert", "-U", "-O", "raw", image, raw]); // -U: the mount holds the image's lock
        return raw;
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }
}
