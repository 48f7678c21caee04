using Qcow2Mount.Fuse.Tests.Support;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>Every refused mount: one line on stderr, the exit code, and nothing left mounted.</summary>
[Category(TestCategories.Mount)]
[Category(TestCategories.Slow)]
public sealed class MountErrorTests : ScratchFixture
{
    private void AssertRefused(ProcessResult result, int exitCode, string message)
    {
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(exitCode), result.ToString());
            Assert.That(result.StandardError.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), result.ToString());
            Assert.That(result.StandardError, Does.StartWith("qcow2mount: ").And.Contain(message));
            Assert.That(Scratch.MountsUnder(Scratch.Root), Is.Empty, "something was left mounted");
        });
    }

    [Test]
    public void Mount_MountPointMissing_Refused()
    {
        string image = Scratch.RawImage("disk.img", 1 << 20);
        AssertRefused(Cli.Run(image, Scratch.PathOf("nope")), 2, "mount point does not exist");
    }

    [Test]
    public void Mount_MountPointIsAFile_Refused()
    {
        string image = Scratch.RawImage("disk.img", 1 << 20);
        AssertRefused(Cli.Run(image, image), 2, "mount point is not a directory");
    }

    [Test]
    public void Mount_MountPointAlreadyMounted_Refused()
    {
        string image = Scratch.RawImage("disk.img", 1 << 20);
        string other = Scratch.RawImage("other.img", 1 << 20);
        string mnt = Scratch.NewDirectory("mnt");
        Cli.Mount(image, mnt);

        var result = Cli.Run(other, mnt);

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
            Assert.That(result.StandardError, Does.Contain("already a mount point"));
            Assert.That(Scratch.MountsUnder(Scratch.Root), Has.Count.EqualTo(1));
        });
    }

    /// <summary>After kill -9 the mount point answers ENOTCONN: the error says so and what to run, not "does not exist".</summary>
    [Test]
    public void Mount_OverAMountWhoseServerWasKilled_SaysStaleAndWhatToRun()
    {
        string image = Scratch.RawImage("disk.img", 1 << 20);
        string mnt = Scratch.NewDirectory("mnt");
        Cli.Mount(image, mnt);
        Assert.That(Scratch.KillServer(Scratch.ServerPid(mnt)!.Value), Is.True, "the server was running");

        var result = Cli.Run(image, mnt);

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
            Assert.That(result.StandardError.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1), result.ToString());
            Assert.That(result.StandardError, Does.StartWith($"qcow2mount: {mnt}: stale mount").And.Contain($"qcow2mount unmount {mnt}").And.Contain($"fusermount3 -u {mnt}"));
        });
        Cli.Unmount(mnt);
        Cli.Mount(image, mnt);
    }

    /// <summary>A log file that cannot be opened fails the mount before anything is mounted or locked (it reported success with a dead mount).</summary>
    [TestCase("--log")]
    [TestCase("-o")]
    public void Mount_LogFileCannotBeOpened_RefusedAndTheImageStaysFree(string form)
    {
        string image = Scratch.RawImage("disk.img", 1 << 20);
        string mnt = Scratch.NewDirectory("mnt");
        string log = Scratch.PathOf("missing/server.log");

        var result = form == "-o" ? Cli.Run(image, mnt, "-o", "log=" + log) : Cli.Run("--log", log, image, mnt);

        AssertRefused(result, 2, $"log file {log}");
        Cli.Mount(image, mnt);
        Cli.Unmount(mnt);
    }

    [Test]
    public void Mount_ImageMissing_Refused()
    {
        string mnt = Scratch.NewDirectory("mnt");
        AssertRefused(Cli.Run(Scratch.PathOf("missing.qcow2"), mnt), 2, "no such image file");
    }

    [Test]
    public void Mount_ImageLockedByAnotherMount_Refused()
    {
        string image = Scratch.RawImage("disk.img", 1 << 20);
        Cli.Mount(image, Scratch.NewDirectory("first"));
        string second = Scratch.NewDirectory("second");

        var result = Cli.Run(image, second);

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
            Assert.That(result.StandardError, Does.Contain("image is in use by another process (failed to get \"write\" lock)"));
            Assert.That(Scratch.MountsUnder(second), Is.Empty);
        });
    }

    [Test]
    public void Mount_LibfuseMissing_NamesThePackage()
    {
        string image = Scratch.RawImage("disk.img", 1 << 20);
        string mnt = Scratch.NewDirectory("mnt");
        var env = new Dictionary<string, string> { ["QCOW2MOUNT_LIBFUSE"] = "/nonexistent/libfuse3.so.3" };
        AssertRefused(Cli.Run(env, image, mnt), 2, "apt-get install fuse3");
    }

    [Test]
    public void Mount_DevFuseMissing_Refused()
    {
        RequiredTools.Require("unshare");
        string image = Scratch.RawImage("disk.img", 1 << 20);
        string mnt = Scratch.NewDirectory("mnt");
        string notADevice = Scratch.RawImage("not-fuse", 0, seed: null);

        // In a private mount namespace, a regular file is bind-mounted over /dev/fuse; the host is untouched.
        var result = ProcessRunner.Capture("unshare", "--mount", "sh", "-c", "mount --bind \"$1\" /dev/fuse && exec dotnet \"$2\" \"$3\" \"$4\"", "sh", notADevice, Cli.DllPath, image, mnt);

        AssertRefused(result, 2, "/dev/fuse is missing or not a device");
    }

    [Test]
    public void Mount_UnknownOption_UsageError()
    {
        string image = Scratch.RawImage("disk.img", 1 << 20);
        string mnt = Scratch.NewDirectory("mnt");
        AssertRefused(Cli.Run(image, mnt, "-o", "ro,bogus"), 1, "unknown mount option 'bogus'");
    }

    [Test]
    public void Mount_NoMountDirectory_UsageError()
    {
        AssertRefused(Cli.Run("mount", "disk.img"), 1, "expected IMAGE [IMAGE...] MOUNTDIR");
    }

    [Test]
    public void Mount_BadCacheSize_UsageError()
    {
        string image = Scratch.RawImage("disk.img", 1 << 20);
        string mnt = Scratch.NewDirectory("mnt");
        AssertRefused(Cli.Run("--cache-size", "12X", image, mnt), 1, "bad size '12X'");
    }

    [Test]
    public void Unmount_NotMounted_Refused()
    {
        string mnt = Scratch.NewDirectory("mnt");
        AssertRefused(Cli.Run("unmount", mnt), 2, "not mounted");
    }

    [Test]
    public void Unmount_WhileFileOpen_BusyAndStillMounted()
    {
        string image = Scratch.RawImage("disk.img", 1 << 20);
        string mnt = Scratch.NewDirectory("mnt");
        Cli.Mount(image, mnt);

        ProcessResult result;
        using (File.OpenHandle(Path.Combine(mnt, "disk.img.raw")))
        {
            result = Cli.Run("unmount", mnt);
        }

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
            Assert.That(result.StandardError, Does.Contain("busy"));
            Assert.That(Scratch.MountsUnder(mnt), Has.Count.EqualTo(1));
        });
        Cli.Unmount(mnt);
    }

    [Test]
    public void Write_L2EntryPointingIntoL1Table_EioThenErofsAndCorruptBitSet()
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "16M", "write -P 0x11 0 128k", "write -P 0x22 4M 128k");
        long l1 = ReadU64(image, 40);
        long l2 = ReadU64(image, l1) & 0x00FF_FFFF_FFFF_FE00L;
        WriteU64(image, l2, l1 | long.MinValue); // guest cluster 0 "maps" to the L1 table (COPIED set)
        string mnt = Scratch.NewDirectory("mnt");
        Cli.Mount(image, mnt);

        using (var file = File.OpenHandle(Path.Combine(mnt, "disk.raw"), FileMode.Open, FileAccess.ReadWrite))
        {
            var first = Assert.Catch<IOException>(() => RandomAccess.Write(file, new byte[4096], 512));
            var second = Assert.Catch<IOException>(() => RandomAccess.Write(file, new byte[4096], 8 << 20));
            var healthy = new byte[128 << 10];
            RandomAccess.Read(file, healthy, 4 << 20);
            Assert.Multiple(() =>
            {
                Assert.That(first!.Message, Does.Contain("Input/output error"), "the write that meets the corruption: EIO");
                Assert.That(second!.Message, Does.Contain("Read-only file system"), "every later write: EROFS");
                Assert.That(healthy, Is.All.EqualTo(0x22), "healthy ranges still read");
            });
        }

        Cli.Unmount(mnt);
        Assert.That(ReadU64(image, 72) & 2, Is.EqualTo(2), "the corrupt bit is on disk");
    }

    private static long ReadU64(string path, long offset)
    {
        var b = new byte[8];
        using var f = File.OpenHandle(path);
        RandomAccess.Read(f, b, offset);
        return System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(b);
    }

    private static void WriteU64(string path, long offset, long value)
    {
        var b = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(b, value);
        using var f = File.OpenHandle(path, FileMode.Open, FileAccess.Write);
        RandomAccess.Write(f, b, offset);
    }
}
