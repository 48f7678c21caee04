using Qcow2Mount.Packaging.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Packaging.Tests.Linux;

/// <summary>
/// <c>qcow2mount open IMAGE</c>, what the .deb's desktop entry runs on a double-click: real FUSE mounts under a test
/// XDG_RUNTIME_DIR, qemu-img as the oracle for the raw content, and a stand-in xdg-open (there is no desktop here) that
/// records what it was asked to open.
/// </summary>
[TestFixture]
[NonParallelizable]
internal sealed class OpenCommandTests
{
    private DesktopSession _session = null!;

    private string MountRoot => _session.MountRoot;

    [SetUp]
    public void StartSession() => _session = new DesktopSession("open", mountPoint => Qcow2mount("unmount", mountPoint));

    [TearDown]
    public void EndSession() => _session.Dispose();

    [Test]
    public void Open_WritableImage_MountsItReadWriteInItsFolderAndOpensThatFolder()
    {
        string image = _session.QemuImage("disk.qcow2");

        var run = Qcow2mount("open", image);

        string folder = Path.Combine(MountRoot, "disk");
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        var mount = Mounts.Under(_session.RuntimeDir).Single();
        Assert.Multiple(() =>
        {
            Assert.That(mount.MountPoint, Is.EqualTo(folder));
            Assert.That(mount.Type, Is.EqualTo("fuse.qcow2mount"));
            Assert.That(mount.Source, Is.EqualTo(image));
            Assert.That(mount.Options.Split(','), Does.Contain("rw"));
            Assert.That(_session.Opened, Is.EqualTo(new[] { folder }));
            Assert.That(Checksum.Sha256OfFile(Path.Combine(folder, "disk.raw")), Is.EqualTo(_session.RawSha256(image)), "the raw file is the image's disk");
        });
    }

    [Test]
    public void Open_ImageAlreadyMounted_OpensItsFolderAgainWithoutASecondMount()
    {
        string image = _session.QemuImage("disk.qcow2");
        Qcow2mount("open", image).ThrowIfFailed();

        var again = Qcow2mount("open", image);

        string folder = Path.Combine(MountRoot, "disk");
        Assert.Multiple(() =>
        {
            Assert.That(again.ExitCode, Is.Zero, again.ToString());
            Assert.That(Mounts.Under(_session.Root).Select(m => m.MountPoint), Is.EqualTo(new[] { folder }));
            Assert.That(_session.Opened, Is.EqualTo(new[] { folder, folder }));
        });
    }

    [Test]
    public void Open_ImageTheUserMayNotWrite_MountsItReadOnly()
    {
        // A read-only bind mount: not writable even for root, whom file modes do not stop.
        string image = _session.QemuImage("disk.qcow2");
        string readOnly = Directory.CreateDirectory(_session.PathOf("ro")).FullName;
        ProcessRunner.Run("mount", ["--bind", Path.GetDirectoryName(image)!, readOnly]);
        ProcessRunner.Run("mount", ["-o", "remount,bind,ro", readOnly]);

        var run = Qcow2mount("open", Path.Combine(readOnly, Path.GetFileName(image)));

        string raw = Path.Combine(MountRoot, "disk", "disk.raw");
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(Mounts.Under(_session.RuntimeDir).Single().Options.Split(','), Does.Contain("ro"));
            Assert.That(Checksum.Sha256OfFile(raw), Is.EqualTo(_session.RawSha256(image)));
            Assert.That(() => File.OpenHandle(raw, FileMode.Open, FileAccess.Write).Dispose(), Throws.InstanceOf<IOException>().Or.InstanceOf<UnauthorizedAccessException>());
        });
    }

    [Test]
    public void Open_ReadOnlyOption_MountsAWritableImageReadOnly()
    {
        var run = Qcow2mount("open", "--read-only", _session.QemuImage("disk.qcow2"));

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(Mounts.Under(_session.RuntimeDir).Single().Options.Split(','), Does.Contain("ro"));
    }

    [Test]
    public void Open_TwoImagesOfTheSameName_GetAFolderEach()
    {
        string first = _session.QemuImage("disk.qcow2", "a");
        string second = _session.QemuImage("disk.qcow2", "b", pattern: 0x77);

        Qcow2mount("open", first).ThrowIfFailed();
        Qcow2mount("open", second).ThrowIfFailed();

        var mounts = Mounts.Under(_session.RuntimeDir).ToDictionary(m => m.MountPoint, m => m.Source);
        Assert.Multiple(() =>
        {
            Assert.That(mounts, Is.EquivalentTo(new Dictionary<string, string> { [Path.Combine(MountRoot, "disk")] = first, [Path.Combine(MountRoot, "disk-2")] = second }));
            Assert.That(Checksum.Sha256OfFile(Path.Combine(MountRoot, "disk-2", "disk.raw")), Is.EqualTo(_session.RawSha256(second)));
        });
    }

    [Test]
    public void Open_WithoutXdgOpen_PrintsTheFolder()
    {
        _session.Environment["PATH"] = Directory.CreateDirectory(_session.PathOf("empty-bin")).FullName;

        var run = Qcow2mount("open", _session.QemuImage("disk.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            Assert.That(run.StandardOutput.TrimEnd().Split('\n')[^1], Is.EqualTo(Path.Combine(MountRoot, "disk")));
            Assert.That(_session.Opened, Is.Empty);
        });
    }

    [Test]
    public void Open_MissingImage_FailsWithOneLineAndMakesNoFolder()
    {
        string missing = _session.PathOf("nope.qcow2");

        var run = Qcow2mount("open", missing);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2));
            Assert.That(run.StandardError.TrimEnd(), Is.EqualTo($"qcow2mount: {missing}: no such image file"));
            Assert.That(MountRoot, Does.Not.Exist);
        });
    }

    [Test]
    public void Open_ImageTheMountRefuses_FailsAndRemovesTheFolderItMade()
    {
        string image = _session.QemuImage("disk.qcow2");
        using (var file = File.OpenHandle(image, FileMode.Open, FileAccess.Write))
        {
            RandomAccess.Write(file, new byte[] { 0, 0, 0, 99 }, 4); // qcow2 version 99
        }

        var run = Qcow2mount("open", image);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
            Assert.That(run.StandardError, Does.StartWith("qcow2mount: "));
            Assert.That(Path.Combine(MountRoot, "disk"), Does.Not.Exist);
            Assert.That(Mounts.Under(_session.Root), Is.Empty);
            Assert.That(_session.Opened, Is.Empty);
        });
    }

    private static readonly string[][] UsageErrors = [[], ["a.qcow2", "b.qcow2"], ["--frobnicate", "a.qcow2"]];

    [TestCaseSource(nameof(UsageErrors))]
    public void Open_NotExactlyOneImageOrAnUnknownOption_IsAUsageError(string[] args)
    {
        var run = Qcow2mount(["open", .. args]);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.StandardError.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
            Assert.That(run.StandardError, Does.StartWith("qcow2mount: open: "));
        });
    }

    /// <summary>The built qcow2mount (dotnet qcow2mount.dll) in the session's environment.</summary>
    private ProcessResult Qcow2mount(params string[] args) =>
        ProcessRunner.Capture(Environment.ProcessPath!, [Repository.CliDll, .. args], _session.Environment, TimeSpan.FromMinutes(2));
}
