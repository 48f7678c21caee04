using System.Security.Cryptography;
using Qcow2Mount.Fuse.Tests.Support;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>The end-to-end use: a file system on a loop device over the mounted raw file, then read-only again.</summary>
public sealed class LoopDeviceTests : ScratchFixture
{
    [OneTimeSetUp]
    public void RequireTools()
    {
        Tool.Require("losetup", "mount");
        Tool.Require("mkfs.ext4", "e2fsprogs");
        Tool.Require("fstrim", "util-linux");
    }

    [Test]
    public void Ext4OnLoopDevice_FilesFstrimRemountReadOnly_ChecksumsSurvive()
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "128M");
        string mnt = Scratch.NewDirectory("mnt");
        string fs = Scratch.NewDirectory("fs");
        string raw = Path.Combine(mnt, "disk.raw");
        var files = Enumerable.Range(0, 6).ToDictionary(i => $"file{i}.bin", i => RandomNumberGenerator.GetBytes((i + 1) * 700_000));

        Cli.Mount(image, mnt);
        string loop = Tool.Check("losetup", "-f", "--show", raw).Trim();
        Tool.Check("mkfs.ext4", "-q", "-E", "nodiscard", loop);
        Tool.Check("mount", loop, fs);
        foreach (var (name, data) in files)
        {
            File.WriteAllBytes(Path.Combine(fs, name), data);
        }

        File.WriteAllBytes(Path.Combine(fs, "deleted.bin"), RandomNumberGenerator.GetBytes(8 << 20));
        Tool.Check("sync");
        File.Delete(Path.Combine(fs, "deleted.bin"));
        var trim = Tool.Run("fstrim", "-v", fs);
        Assert.That(trim.ExitCode, Is.Zero, "fstrim (the loop device punches holes through the mount): " + trim);
        Tool.Check("umount", fs);
        Tool.Check("losetup", "-d", loop);
        Cli.Unmount(mnt);

        var check = Tool.Run("qemu-img", "check", image);
        Assert.That(check.ExitCode, Is.Zero, check.ToString());

        Cli.Mount("-r", image, mnt);
        string roLoop = Tool.Check("losetup", "-r", "-f", "--show", raw).Trim();
        Tool.Check("mount", "-o", "ro,noload", roLoop, fs);
        Assert.Multiple(() =>
        {
            foreach (var (name, data) in files)
            {
                Assert.That(SHA256.HashData(File.ReadAllBytes(Path.Combine(fs, name))), Is.EqualTo(SHA256.HashData(data)), name);
            }

            Assert.That(File.Exists(Path.Combine(fs, "deleted.bin")), Is.False);
        });
        Tool.Check("umount", fs);
        Tool.Check("losetup", "-d", roLoop);
        Cli.Unmount(mnt);
    }
}
