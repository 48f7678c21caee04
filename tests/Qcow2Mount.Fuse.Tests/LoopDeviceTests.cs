using System.Security.Cryptography;
using System.Text.Json;
using Qcow2Mount.Fuse.Tests.Support;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>The end-to-end use: a file system on a loop device over the mounted raw file, then read-only again.</summary>
[Category(TestCategories.Mount)]
[Category(TestCategories.Slow)]
public sealed class LoopDeviceTests : ScratchFixture
{
    [OneTimeSetUp]
    public void RequireTools()
    {
        RequiredTools.Require("losetup");
        RequiredTools.Require("mkfs.ext4");
        RequiredTools.Require("fstrim");
    }

    /// <summary>Big enough that ext4 metadata cannot hide whether its clusters were trimmed.</summary>
    private const int DeletedSize = 32 << 20;

    /// <summary>Guest bytes that qemu-img map reports as data (allocated, not zero).</summary>
    private static long DataBytes(string image)
    {
        using var map = JsonDocument.Parse(QemuTools.Ok("qemu-img", "map", "--output=json", image));
        return map.RootElement.EnumerateArray().Where(e => e.GetProperty("data").GetBoolean()).Sum(e => e.GetProperty("length").GetInt64());
    }

    /// <summary>
    /// The end-to-end path: <c>qcow2mount create</c> an empty 1 GiB image, mount it, ext4 on a loop device over
    /// the raw file, a tree of a few hundred files (~100 MiB) with checksums, fstrim, unmount everything; then
    /// qemu-img check is clean (no leaks), a read-only remount and a <c>qemu-img convert</c> raw copy both verify.
    /// </summary>
    [Test]
    public void Ext4OnLoopDevice_FilesFstrimRemountReadOnly_ChecksumsSurvive()
    {
        string image = Scratch.PathOf("disk.qcow2");
        var created = Cli.Run("create", "-f", "qcow2", image, "1G");
        Assert.That(created.ExitCode, Is.Zero, "qcow2mount create: " + created);
        string mnt = Scratch.NewDirectory("mnt");
        string fs = Scratch.NewDirectory("fs");
        string raw = Path.Combine(mnt, "disk.raw");
        var random = new Random(20261126);
        var files = new Dictionary<string, byte[]>();
        for (int i = 0; i < 300; i++)
        {
            var data = new byte[random.Next(1, 680_000)];
            random.NextBytes(data);
            files[$"d{i % 12}/f{i}.bin"] = data;
        }

        Cli.Mount(image, mnt);
        string loop = ProcessRunner.Output("losetup", "-f", "--show", raw).Trim();
        ProcessRunner.Output("mkfs.ext4", "-q", "-E", "nodiscard", loop);
        ProcessRunner.Output("mount", loop, fs);
        foreach (var (name, data) in files)
        {
            string path = Path.Combine(fs, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, data);
        }

        File.WriteAllBytes(Path.Combine(fs, "deleted.bin"), RandomNumberGenerator.GetBytes(DeletedSize));
        ProcessRunner.Output("sync");
        File.Delete(Path.Combine(fs, "deleted.bin"));
        ProcessRunner.Output("sync");
        var trim = ProcessRunner.Capture("fstrim", "-v", fs);
        Assert.That(trim.ExitCode, Is.Zero, "fstrim (the loop device punches holes through the mount): " + trim);
        ProcessRunner.Output("umount", fs);
        ProcessRunner.Output("losetup", "-d", loop);
        Cli.Unmount(mnt);

        var check = ProcessRunner.Capture("qemu-img", "check", image);
        Assert.That(check.ExitCode, Is.Zero, "qemu-img check must find no corruption and no leak: " + check);
        long kept = files.Values.Sum(d => (long)d.Length);
        Assert.That(kept, Is.GreaterThan(90L << 20), "the tree is about 100 MiB");
        Assert.That(DataBytes(image), Is.LessThan(kept + (DeletedSize / 2) + (16 << 20)), "fstrim deallocated the deleted file's clusters");

        Cli.Mount("-r", image, mnt);
        VerifyTree(Path.Combine(mnt, "disk.raw"), fs, files);
        Cli.Unmount(mnt);

        string copy = Scratch.PathOf("copy.raw");
        QemuTools.Ok("qemu-img", "convert", "-f", "qcow2", "-O", "raw", image, copy);
        VerifyTree(copy, fs, files);
    }

    /// <summary>Loop-mounts <paramref name="rawDisk"/> read-only on <paramref name="fs"/> and checks every file's SHA-256.</summary>
    private static void VerifyTree(string rawDisk, string fs, Dictionary<string, byte[]> files)
    {
        string loop = ProcessRunner.Output("losetup", "-r", "-f", "--show", rawDisk).Trim();
        ProcessRunner.Output("mount", "-o", "ro,noload", loop, fs);
        try
        {
            Assert.Multiple(() =>
            {
                foreach (var (name, data) in files)
                {
                    Assert.That(SHA256.HashData(File.ReadAllBytes(Path.Combine(fs, name))), Is.EqualTo(SHA256.HashData(data)), $"{name} from {rawDisk}");
                }

                Assert.That(File.Exists(Path.Combine(fs, "deleted.bin")), Is.False);
            });
        }
        finally
        {
            ProcessRunner.Capture("umount", fs);
            ProcessRunner.Capture("losetup", "-d", loop);
        }
    }
}
