using System.Security.Cryptography;
using System.Text.Json;
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

    /// <summary>Big enough that ext4 metadata cannot hide whether its clusters were trimmed.</summary>
    private const int DeletedSize = 32 << 20;

    /// <summary>Guest bytes that qemu-img map reports as data (allocated, not zero).</summary>
    private static long DataBytes(string image)
    {
        using var map = JsonDocument.Parse(Tool.Check("qemu-img", "map", "--output=json", image));
        return map.RootElement.EnumerateArray().Where(e => e.GetProperty("data").GetBoolean()).Sum(e => e.GetProperty("length").GetInt64());
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

        File.WriteAllBytes(Path.Combine(fs, "deleted.bin"), RandomNumberGenerator.GetBytes(DeletedSize));
        Tool.Check("sync");
        File.Delete(Path.Combine(fs, "deleted.bin"));
        Tool.Check("sync");
        var trim = Tool.Run("fstrim", "-v", fs);
        Assert.That(trim.ExitCode, Is.Zero, "fstrim (the loop device punches holes through the mount): " + trim);
        Tool.Check("umount", fs);
        Tool.Check("losetup", "-d", loop);
        Cli.Unmount(mnt);

        var check = Tool.Run("qemu-img", "check", image);
        Assert.That(check.ExitCode, Is.Zero, check.ToString());
        long kept = files.Values.Sum(d => (long)d.Length);
        Assert.That(DataBytes(image), Is.LessThan(kept + DeletedSize / 2), "fstrim deallocated the deleted file's clusters");

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
