using Qcow2Mount.Fuse.Tests.Support;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>The mount command line: help, configuration precedence, the fstab form and the demo quick start.</summary>
[Category(TestCategories.Mount)]
public sealed class CommandLineTests : ScratchFixture
{
    private static readonly string[] MountOptions =
    [
        "--read-only", "-r", "-o", "--cache-size", "--cache-clean-interval", "--no-backing", "--allow-backing-device",
        "--verbose", "-v", "--foreground", "-f", "--log", "--max-threads", "allow_other", "QCOW2MOUNT_", "/etc/qcow2mount.json",
        "~/.config/qcow2mount/config.json",
    ];

    [TestCase("--help")]
    [TestCase("mount", "--help")]
    public void Help_Mount_DocumentsEveryOption(params string[] args)
    {
        var help = Cli.Run(args);
        Assert.That(help.ExitCode, Is.Zero);
        string text = args[0] == "--help" ? Cli.Run("mount", "--help").StandardOutput : help.StandardOutput;
        Assert.Multiple(() =>
        {
            foreach (string option in MountOptions)
            {
                Assert.That(text, Does.Contain(option));
            }
        });
        if (args[0] == "--help")
        {
            Assert.That(help.StandardOutput, Does.Contain("mount").And.Contain("unmount").And.Contain("demo"));
        }
    }

    [Test]
    public void Help_Unmount_DocumentsOptions()
    {
        var help = Cli.Run("unmount", "--help");
        Assert.That(help.StandardOutput, Does.Contain("--lazy").And.Contain("--timeout"));
    }

    private bool MountsReadOnly(Dictionary<string, string> environment, params string[] extra)
    {
        string image = Scratch.PathOf("disk.img");
        if (!File.Exists(image))
        {
            Scratch.RawImage("disk.img", 1 << 20);
        }

        string mnt = Scratch.NewDirectory("mnt");
        var result = Cli.Run(environment, [image, mnt, .. extra]);
        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Cli.Unmount(mnt);
        return result.StandardOutput.Contains("read-only", StringComparison.Ordinal);
    }

    [Test]
    public void Config_EnvironmentVariable_Applies()
    {
        Assert.That(MountsReadOnly(new() { ["QCOW2MOUNT_READ_ONLY"] = "true" }), Is.True);
    }

    [Test]
    public void Config_CommandLine_OverridesEnvironment()
    {
        Assert.That(MountsReadOnly(new() { ["QCOW2MOUNT_READ_ONLY"] = "true" }, "-o", "rw"), Is.False);
    }

    [Test]
    public void Config_JsonFile_AppliesAndEnvironmentOverridesIt()
    {
        string home = Scratch.NewDirectory("config");
        Directory.CreateDirectory(Path.Combine(home, "qcow2mount"));
        File.WriteAllText(Path.Combine(home, "qcow2mount", "config.json"), """{ "ReadOnly": true, "CacheSize": "4M" }""");

        Assert.Multiple(() =>
        {
            Assert.That(MountsReadOnly(new() { ["XDG_CONFIG_HOME"] = home }), Is.True);
            Assert.That(MountsReadOnly(new() { ["XDG_CONFIG_HOME"] = home, ["QCOW2MOUNT_READONLY"] = "false" }), Is.False);
        });
    }

    [Test]
    public void FstabForm_OptionsAfterMountPoint_MountsReadOnly()
    {
        // What mount.fuse3 runs for "IMAGE MNT fuse.qcow2mount ro,allow_other,noauto,defaults" as root (fuse-notes §8).
        Assert.That(MountsReadOnly([], "-o", "ro,allow_other,dev,suid,defaults,noauto,x-systemd.automount"), Is.True);
    }

    [Test]
    public void Demo_OnlyAMountDirectory_MountsADemoImageAndSaysWhatToTry()
    {
        string mnt = Scratch.PathOf("demo-mnt");
        var env = new Dictionary<string, string> { ["TMPDIR"] = Scratch.Root };

        var result = Cli.Run(env, mnt);

        Assert.That(result.ExitCode, Is.Zero, result.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(result.StandardOutput, Does.Contain("losetup -fP").And.Contain("dd ").And.Contain("qcow2mount unmount"));
            Assert.That(File.Exists(Path.Combine(Scratch.Root, "qcow2mount-demo", "demo.qcow2")), Is.True);
            Assert.That(new FileInfo(Path.Combine(mnt, "demo.raw")).Length, Is.EqualTo(256L << 20));
        });
        Cli.Unmount(mnt);
    }
}
