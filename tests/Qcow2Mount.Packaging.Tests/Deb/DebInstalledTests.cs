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
[Category(TestCategories.Mount)]
[Category(TestCategories.Slow)]
internal sealed class DebInstalledTests
{
    private const string MimeType = "application/x-qemu-disk";

    private DesktopSession _session = null!;

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
    public void StartSession()
    {
        _session = new DesktopSession("deb", mountPoint => ProcessRunner.Capture("/usr/bin/qcow2mount", ["unmount", mountPoint]));
        _session.Environment["PATH"] = _session.Environment["PATH"]!.Split(':')[0] + ":/usr/bin:/bin";
    }

    [TearDown]
    public void EndSession() => _session.Dispose();

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
        string image = _session.QemuImage("disk.qcow2");

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
        string image = _session.QemuImage("disk.qcow2");
        string[] exec = DesktopEntry.ExecFor(DesktopEntry.Read(DebPackage.DesktopFile)["Desktop Entry", "Exec"], image);
        string folder = Path.Combine(_session.MountRoot, "disk");

        var first = Run(exec);
        var second = Run(exec);

        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(second.ExitCode, Is.Zero, second.ToString());
            Assert.That(Mounts.Under(_session.Root).Select(m => (m.MountPoint, m.Type, m.Source)), Is.EqualTo(new[] { (folder, "fuse.qcow2mount", image) }));
            Assert.That(Mounts.Under(_session.Root).Single().Options.Split(','), Does.Contain("rw"));
            Assert.That(_session.Opened, Is.EqualTo(new[] { folder, folder }));
            Assert.That(Checksum.Sha256OfFile(Path.Combine(folder, "disk.raw")), Is.EqualTo(_session.RawSha256(image)));
        });

        var unmount = ProcessRunner.Capture("/usr/bin/qcow2mount", ["unmount", folder]);
        Assert.Multiple(() =>
        {
            Assert.That(unmount.ExitCode, Is.Zero, unmount.ToString());
            Assert.That(Mounts.Under(_session.Root), Is.Empty);
            Assert.That(ProcessRunner.Capture("qemu-img", ["check", image]).ExitCode, Is.Zero, "the image is consistent after the unmount");
        });
    }

    [Test]
    public void DesktopEntry_ReadOnlyAction_MountsTheImageReadOnly()
    {
        string image = _session.QemuImage("disk.qcow2");
        string[] exec = DesktopEntry.ExecFor(DesktopEntry.Read(DebPackage.DesktopFile)["Desktop Action read-only", "Exec"], image);

        var run = Run(exec);

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(Mounts.Under(_session.Root).Single().Options.Split(','), Does.Contain("ro"));
    }

    /// <summary>Runs an Exec line as the desktop would: the program looked up on the session's PATH (the installed one).</summary>
    private ProcessResult Run(string[] exec)
    {
        string program = _session.Environment["PATH"]!.Split(':').Select(d => Path.Combine(d, exec[0])).First(File.Exists);
        Assert.That(program, Is.EqualTo("/usr/bin/qcow2mount"), "the installed program");
        return ProcessRunner.Capture(program, exec[1..], _session.Environment, TimeSpan.FromMinutes(2));
    }
}
