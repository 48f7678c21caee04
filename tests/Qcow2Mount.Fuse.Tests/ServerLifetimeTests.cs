using System.Security.Cryptography;
using Qcow2Mount.Fuse.Tests.Support;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>How a server ends: signals, external unmounts, qcow2mount unmount, and a crash (kill -9).</summary>
public sealed class ServerLifetimeTests : ScratchFixture
{
    /// <summary>Writes <paramref name="data"/> at 1 MiB without fsync; only a clean shutdown makes it durable in qcow2 metadata.</summary>
    private static void WriteUnsynced(string raw, byte[] data)
    {
        using var file = File.OpenHandle(raw, FileMode.Open, FileAccess.Write);
        RandomAccess.Write(file, data, 1 << 20);
    }

    private void AssertImageHolds(string image, byte[] data)
    {
        var check = Tool.Run("qemu-img", "check", image);
        Assert.That(check.ExitCode, Is.Zero, "qemu-img check right after the server ended: " + check);
        Images.AssertSameBytes(Images.QemuRaw(Scratch, image).AsSpan(1 << 20, data.Length).ToArray(), data, "data written before shutdown");
    }

    [TestCase("TERM")]
    [TestCase("INT")]
    [TestCase("HUP")]
    public void Signal_ForegroundServer_UnmountsFlushesExitsZero(string signal)
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "8M");
        string mnt = Scratch.NewDirectory("mnt");
        var data = RandomNumberGenerator.GetBytes(512 << 10);
        using var server = ForegroundServer.Start(image, mnt);
        WriteUnsynced(Path.Combine(mnt, "disk.raw"), data);

        server.Signal(signal);
        var exit = server.WaitForExit(TimeSpan.FromSeconds(30));

        Assert.That(exit.ExitCode, Is.Zero, exit.ToString());
        Assert.That(Scratch.MountsUnder(mnt), Is.Empty);
        AssertImageHolds(image, data);
    }

    [TestCase("fusermount3", "-u")]
    [TestCase("umount", null)]
    public void ExternalUnmount_ForegroundServer_FlushesExitsZero(string program, string? option)
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "8M");
        string mnt = Scratch.NewDirectory("mnt");
        var data = RandomNumberGenerator.GetBytes(256 << 10);
        using var server = ForegroundServer.Start(image, mnt);
        WriteUnsynced(Path.Combine(mnt, "disk.raw"), data);

        Tool.Check(program, option is null ? [mnt] : [option, mnt]);
        var exit = server.WaitForExit(TimeSpan.FromSeconds(30));

        Assert.That(exit.ExitCode, Is.Zero, exit.ToString());
        AssertImageHolds(image, data);
    }

    [Test]
    public void Unmount_BackgroundServer_ReturnsAfterImagesAreClosed()
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "8M");
        string mnt = Scratch.NewDirectory("mnt");
        var data = RandomNumberGenerator.GetBytes(1 << 20);
        Cli.Mount(image, mnt);
        int? pid = Scratch.ServerPid(mnt);
        WriteUnsynced(Path.Combine(mnt, "disk.raw"), data);

        Cli.Unmount(mnt);

        Assert.Multiple(() =>
        {
            Assert.That(pid, Is.Not.Null, "pid file");
            Assert.That(Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z", StringComparison.Ordinal), Is.False, "server still running");
            Assert.That(Scratch.ServerPid(mnt), Is.Null, "pid file left behind");
            Assert.That(Scratch.MountsUnder(mnt), Is.Empty);
        });
        AssertImageHolds(image, data);
    }

    [Test]
    public void KillNine_AfterFsync_RemountReadsTheData()
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "8M");
        string mnt = Scratch.NewDirectory("mnt");
        var data = RandomNumberGenerator.GetBytes(2 << 20);
        Cli.Mount(image, mnt);
        using (var file = File.OpenHandle(Path.Combine(mnt, "disk.raw"), FileMode.Open, FileAccess.Write))
        {
            RandomAccess.Write(file, data, 1 << 20);
            RandomAccess.FlushToDisk(file);
        }

        using (var server = System.Diagnostics.Process.GetProcessById(Scratch.ServerPid(mnt)!.Value))
        {
            server.Kill();
            server.WaitForExit(10_000);
        }

        // The dead mount answers ENOTCONN until unmounted; unmount must clean it up without a server to wait for.
        Cli.Unmount(mnt);
        Cli.Mount(image, mnt);
        var back = new byte[data.Length];
        using (var file = File.OpenHandle(Path.Combine(mnt, "disk.raw")))
        {
            RandomAccess.Read(file, back, 1 << 20);
        }

        Images.AssertSameBytes(back, data, "after kill -9 and remount");
        Cli.Unmount(mnt);
        Assert.That(Tool.Run("qemu-img", "check", image).ExitCode, Is.AnyOf(0, 3), "no corruption (leaks allowed after a crash)");
    }
}
