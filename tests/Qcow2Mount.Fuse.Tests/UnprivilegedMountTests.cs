using System.Globalization;
using System.Security.Cryptography;
using Qcow2Mount.Fuse.Tests.Support;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>
/// Mounts by a real unprivileged user (through fusermount3), and what other local users can do to them: plant things
/// where the mount keeps its pid file, read a root-only image through allow_other, or lack /dev/fuse altogether.
/// </summary>
[Category(TestCategories.Mount)]
[Category(TestCategories.Slow)]
public sealed class UnprivilegedMountTests : ScratchFixture
{
    private FuseAccess _fuseAccess = null!;
    private TestUser _user = null!;
    private TestUser _other = null!;

    [OneTimeSetUp]
    public void GrantFuse()
    {
        RequiredTools.Require("fusermount3");
        _user = TestUser.Mounter;
        _other = TestUser.Other;
        _fuseAccess = FuseAccess.Grant();
    }

    [OneTimeTearDown]
    public void RestoreFuse() => _fuseAccess.Dispose();

    [SetUp]
    [TearDown]
    public void RemovePidDirectories()
    {
        ProcessRunner.Capture("rm", "-rf", _user.PidDirectory, _other.PidDirectory);
    }

    /// <summary>An image and a mount point that belong to the mounting user; returns the pid file name the mount uses.</summary>
    private (string Image, string Mnt, string PidFileName) UserMount()
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "8M");
        string mnt = Scratch.NewDirectory("mnt");
        _user.Own(image);
        _user.Own(mnt);
        return (image, mnt, Scratch.PidFileName(mnt));
    }

    private void AssertRefusedOneLine(ProcessResult result, string mnt, string message)
    {
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
            Assert.That(result.StandardError.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), result.ToString());
            Assert.That(result.StandardError, Does.StartWith("qcow2mount: ").And.Contain(message));
            Assert.That(Scratch.MountsUnder(mnt), Is.Empty, "nothing may be mounted");
        });
    }

    [Test]
    public void Mount_PidDirectoryPlantedWithASymlink_RefusedAndTheTargetUntouched()
    {
        var (image, mnt, pidFileName) = UserMount();
        string victim = Scratch.PathOf("victim.txt");
        File.WriteAllText(victim, "precious\n");
        _user.Own(victim);
        string planted = _user.PidDirectory;
        Assert.That(_other.Run(null, "mkdir", "-m", "0777", planted).ExitCode, Is.Zero);
        Assert.That(_other.Run(null, "ln", "-s", victim, Path.Combine(planted, pidFileName)).ExitCode, Is.Zero);

        var result = _user.Cli(image, mnt);

        AssertRefusedOneLine(result, mnt, planted);
        Assert.Multiple(() =>
        {
            Assert.That(result.StandardError, Does.Contain($"owner uid {_other.Uid}").And.Contain("XDG_RUNTIME_DIR"));
            Assert.That(File.ReadAllText(victim), Is.EqualTo("precious\n"), "the symlink's target was overwritten");
        });
    }

    [Test]
    public void Mount_PidDirectoryOfAnotherUser_RefusedBeforeMounting()
    {
        var (image, mnt, _) = UserMount();
        Assert.That(_other.Run(null, "mkdir", "-m", "0755", _user.PidDirectory).ExitCode, Is.Zero);

        var result = _user.Cli(image, mnt);

        AssertRefusedOneLine(result, mnt, $"{_user.PidDirectory}: not a private directory of yours");
    }

    [Test]
    public void Mount_PidDirectoryIsASymlink_Refused()
    {
        var (image, mnt, _) = UserMount();
        string target = Scratch.NewDirectory("elsewhere");
        _user.Own(target);
        Assert.That(_other.Run(null, "ln", "-s", target, _user.PidDirectory).ExitCode, Is.Zero);

        var result = _user.Cli(image, mnt);

        AssertRefusedOneLine(result, mnt, $"{_user.PidDirectory}: not a private directory of yours");
        Assert.That(Directory.GetFileSystemEntries(target), Is.Empty);
    }

    /// <summary>
    /// The mount keeps its pid file in XDG_RUNTIME_DIR; an unmount without it looks in /tmp/qcow2mount-UID, where
    /// another user put a pid file naming pid 1 (which never exits): unmount must not trust it (and wait for pid 1).
    /// </summary>
    [Test]
    public void Unmount_PidDirectoryPlantedByAnotherUser_RefusedInsteadOfWaitingForItsPid()
    {
        var (image, mnt, pidFileName) = UserMount();
        string runtime = Scratch.NewDirectory("runtime");
        _user.Own(runtime);
        ProcessRunner.Output("chmod", "0700", runtime);
        var xdg = new Dictionary<string, string> { ["XDG_RUNTIME_DIR"] = runtime };
        var mounted = _user.Cli(xdg, image, mnt);
        Assert.That(mounted.ExitCode, Is.Zero, mounted.ToString());
        Assert.That(_other.Run(null, "mkdir", "-m", "0777", _user.PidDirectory).ExitCode, Is.Zero);
        Assert.That(_other.Run(null, "sh", "-c", $"echo 1 > '{_user.PidDirectory}/{pidFileName}'").ExitCode, Is.Zero);

        var result = _user.Cli("unmount", "--timeout", "5", mnt);

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
            Assert.That(result.StandardError.Trim(), Does.Contain($"{_user.PidDirectory}: not a private directory of yours").And.Not.Contain("\n"));
            Assert.That(Scratch.MountsUnder(mnt), Has.Count.EqualTo(1), "refused before unmounting");
        });
        var unmounted = _user.Cli(xdg, "unmount", mnt);
        Assert.That(unmounted.ExitCode, Is.Zero, unmounted.ToString());
    }

    [Test]
    public void Mount_AsUser_PidFilePrivateAndUnmountWaitsForTheFlush()
    {
        var (image, mnt, pidFileName) = UserMount();
        var data = RandomNumberGenerator.GetBytes(256 << 10);
        string source = Scratch.PathOf("data.bin");
        File.WriteAllBytes(source, data);
        _user.Own(source);

        var mounted = _user.Cli(image, mnt);
        Assert.That(mounted.ExitCode, Is.Zero, mounted.ToString());
        string pidFile = Path.Combine(_user.PidDirectory, pidFileName);
        string directory = ProcessRunner.Output("stat", "-c", "%u %a %F", _user.PidDirectory).Trim();
        string file = ProcessRunner.Output("stat", "-c", "%u %a %F", pidFile).Trim();
        int pid = int.Parse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture);
        var copy = _user.Run(null, "dd", $"if={source}", $"of={Path.Combine(mnt, "disk.raw")}", "bs=64k", "seek=16", "conv=notrunc", "status=none");
        var unmounted = _user.Cli("unmount", mnt);

        Assert.Multiple(() =>
        {
            Assert.That(directory, Is.EqualTo($"{_user.Uid} 700 directory"));
            Assert.That(file, Is.EqualTo($"{_user.Uid} 600 regular file"));
            Assert.That(copy.ExitCode, Is.Zero, copy.ToString());
            Assert.That(unmounted.ExitCode, Is.Zero, unmounted.ToString());
            Assert.That(Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z", StringComparison.Ordinal), Is.False, "unmount returned before the server exited");
            Assert.That(File.Exists(pidFile), Is.False, "pid file left behind");
        });
        Assert.That(ProcessRunner.Capture("qemu-img", "check", image).ExitCode, Is.Zero);
        Images.AssertSameBytes(Images.QemuRaw(Scratch, image).AsSpan(1 << 20, data.Length).ToArray(), data, "written as the user");
    }

    [Test]
    public void Mount_UserWithoutAccessToDevFuse_OneLineSayingWhatToDo()
    {
        string image = Scratch.RawImage("disk.img", 1 << 20);
        string mnt = Scratch.NewDirectory("mnt");
        _other.Own(image);
        _other.Own(mnt);

        var result = _other.Cli(image, mnt);

        AssertRefusedOneLine(result, mnt, "/dev/fuse");
        Assert.That(result.StandardError, Does.Contain("permission").And.Contain("chmod 0666 /dev/fuse").And.Contain("as root"));
    }

    /// <summary>A root-only image mounted by root with allow_other: the raw file is root's alone unless umask= opens it.</summary>
    [TestCase("allow_other", false, "600")]
    [TestCase("allow_other,ro", false, "400")]
    [TestCase("allow_other,umask=022", true, "755")]
    public void AllowOther_RootOnlyImage_OthersReadOnlyWhenUmaskOpensIt(string options, bool othersRead, string mode)
    {
        string image = Scratch.RawImage("disk.img", 1 << 20);
        ProcessRunner.Output("chmod", "0600", image);
        string mnt = Scratch.NewDirectory("mnt");
        Cli.Mount(image, mnt, "-o", options);
        string raw = Path.Combine(mnt, "disk.img.raw");

        var read = _other.Run(null, "dd", $"if={raw}", "of=/dev/null", "bs=64k", "status=none");

        Assert.Multiple(() =>
        {
            Assert.That(ProcessRunner.Output("stat", "-c", "%a", raw).Trim(), Is.EqualTo(mode));
            Assert.That(read.ExitCode == 0, Is.EqualTo(othersRead), read.ToString());
            if (!othersRead)
            {
                Assert.That(read.StandardError, Does.Contain("Permission denied"));
            }
        });
    }
}
