using System.Runtime.Versioning;
using System.Security.Cryptography;
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
[SupportedOSPlatform("linux")]
internal sealed class OpenCommandTests
{
    private TempDir _dir = null!;
    private string _runtime = null!;
    private string _opened = null!;
    private Dictionary<string, string?> _environment = null!;

    private string MountRoot => Path.Combine(_runtime, "qcow2mount");

    [SetUp]
    public void CreateDesktop()
    {
        _dir = new TempDir("open");
        _runtime = Directory.CreateDirectory(_dir.File("run"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute).FullName;
        _opened = _dir.File("xdg-open.log");
        Directory.CreateDirectory(_dir.File("bin"));
        File.WriteAllText(_dir.File("bin/xdg-open"), $"#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{_opened}'\n");
        File.SetUnixFileMode(_dir.File("bin/xdg-open"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _environment = new Dictionary<string, string?>
        {
            ["XDG_RUNTIME_DIR"] = _runtime,
            ["PATH"] = _dir.File("bin") + ":" + Environment.GetEnvironmentVariable("PATH"),
        };
    }

    [TearDown]
    public void TakeDown()
    {
        Mounts.TakeDown(_dir.Path, mountPoint => Qcow2mount("unmount", mountPoint));
        _dir.Dispose();
    }

    [Test]
    public void Open_WritableImage_MountsItReadWriteInItsFolderAndOpensThatFolder()
    {
        string image = Image("disk.qcow2");

        var run = Qcow2mount("open", image);

        string folder = Path.Combine(MountRoot, "disk");
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        var mount = Mounts.Under(_runtime).Single();
        Assert.Multiple(() =>
        {
            Assert.That(mount.MountPoint, Is.EqualTo(folder));
            Assert.That(mount.Type, Is.EqualTo("fuse.qcow2mount"));
            Assert.That(mount.Source, Is.EqualTo(image));
            Assert.That(mount.Options.Split(','), Does.Contain("rw"));
            Assert.That(File.ReadAllLines(_opened), Is.EqualTo(new[] { folder }));
            Assert.That(Sha256(Path.Combine(folder, "disk.raw")), Is.EqualTo(Sha256(RawTwin(image))), "the raw file is the image's disk");
        });
    }

    [Test]
    public void Open_ImageAlreadyMounted_OpensItsFolderAgainWithoutASecondMount()
    {
        string image = Image("disk.qcow2");
        Qcow2mount("open", image).ThrowIfFailed();

        var again = Qcow2mount("open", image);

        string folder = Path.Combine(MountRoot, "disk");
        Assert.Multiple(() =>
        {
            Assert.That(again.ExitCode, Is.Zero, again.ToString());
            Assert.That(Mounts.Under(_dir.Path).Select(m => m.MountPoint), Is.EqualTo(new[] { folder }));
            Assert.That(File.ReadAllLines(_opened), Is.EqualTo(new[] { folder, folder }));
        });
    }

    [Test]
    public void Open_ImageTheUserMayNotWrite_MountsItReadOnly()
    {
        // A read-only bind mount: not writable even for root, whom file modes do not stop.
        string image = Image("disk.qcow2");
        string readOnly = Directory.CreateDirectory(_dir.File("ro")).FullName;
        ProcessRunner.Run("mount", ["--bind", _dir.Path + "/images", readOnly]);
        ProcessRunner.Run("mount", ["-o", "remount,bind,ro", readOnly]);
        string roImage = Path.Combine(readOnly, Path.GetFileName(image));

        var run = Qcow2mount("open", roImage);

        string raw = Path.Combine(MountRoot, "disk", "disk.raw");
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(Mounts.Under(_runtime).Single().Options.Split(','), Does.Contain("ro"));
            Assert.That(Sha256(raw), Is.EqualTo(Sha256(RawTwin(image))));
            Assert.That(() => File.OpenHandle(raw, FileMode.Open, FileAccess.Write).Dispose(), Throws.InstanceOf<IOException>().Or.InstanceOf<UnauthorizedAccessException>());
        });
    }

    [Test]
    public void Open_ReadOnlyOption_MountsAWritableImageReadOnly()
    {
        var run = Qcow2mount("open", "--read-only", Image("disk.qcow2"));

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(Mounts.Under(_runtime).Single().Options.Split(','), Does.Contain("ro"));
    }

    [Test]
    public void Open_TwoImagesOfTheSameName_GetAFolderEach()
    {
        string first = Image("disk.qcow2", "a");
        string second = Image("disk.qcow2", "b", pattern: 0x77);

        Qcow2mount("open", first).ThrowIfFailed();
        Qcow2mount("open", second).ThrowIfFailed();

        var mounts = Mounts.Under(_runtime).ToDictionary(m => m.MountPoint, m => m.Source);
        Assert.Multiple(() =>
        {
            Assert.That(mounts, Is.EquivalentTo(new Dictionary<string, string> { [Path.Combine(MountRoot, "disk")] = first, [Path.Combine(MountRoot, "disk-2")] = second }));
            Assert.That(Sha256(Path.Combine(MountRoot, "disk-2", "disk.raw")), Is.EqualTo(Sha256(RawTwin(second))));
        });
    }

    [Test]
    public void Open_WithoutXdgOpen_PrintsTheFolder()
    {
        _environment["PATH"] = Directory.CreateDirectory(_dir.File("empty-bin")).FullName;

        var run = Qcow2mount("open", Image("disk.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            Assert.That(run.StandardOutput.TrimEnd().Split('\n')[^1], Is.EqualTo(Path.Combine(MountRoot, "disk")));
            Assert.That(_opened, Does.Not.Exist);
        });
    }

    [Test]
    public void Open_MissingImage_FailsWithOneLineAndMakesNoFolder()
    {
        var run = Qcow2mount("open", _dir.File("nope.qcow2"));

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2));
            Assert.That(run.StandardError.TrimEnd(), Is.EqualTo($"qcow2mount: {_dir.File("nope.qcow2")}: no such image file"));
            Assert.That(MountRoot, Does.Not.Exist);
        });
    }

    [Test]
    public void Open_ImageTheMountRefuses_FailsAndRemovesTheFolderItMade()
    {
        string image = Image("disk.qcow2");
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
            Assert.That(Mounts.Under(_dir.Path), Is.Empty);
            Assert.That(_opened, Does.Not.Exist);
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

    /// <summary>A 32 MiB qcow2 image made by qemu-img, with a pattern written by qemu-io at 1 MiB.</summary>
    private string Image(string name, string folder = "images", int pattern = 0x5a)
    {
        string path = Path.Combine(Directory.CreateDirectory(_dir.File(folder)).FullName, name);
        ProcessRunner.Run("qemu-img", ["create", "-q", "-f", "qcow2", path, "32M"]);
        ProcessRunner.Run("qemu-io", ["-c", $"write -P {pattern} 1M 2M", path]);
        return path;
    }

    /// <summary>The image's disk as qemu-img converts it to raw (while it is mounted, so without taking its lock).</summary>
    private string RawTwin(string image)
    {
        string raw = _dir.File($"twin-{Guid.NewGuid():N}.raw");
        ProcessRunner.Run("qemu-img", ["convert", "-U", "-O", "raw", image, raw]); // -U: the mount holds the image's lock
        return raw;
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }

    private ProcessResult Qcow2mount(params string[] args) =>
        ProcessRunner.Capture(Environment.ProcessPath!, [Repository.CliDll, .. args], _environment, TimeSpan.FromMinutes(2));
}
