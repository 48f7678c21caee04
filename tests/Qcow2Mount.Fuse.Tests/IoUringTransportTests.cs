using System.Security.Cryptography;
using Qcow2Mount.Fuse.Tests.Support;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>
/// FUSE over io_uring: real mounts through the command line with the kernel's switch (enable_uring) on, so the server
/// takes the rings, and off, so it stays on /dev/fuse. QEMU is the oracle for what the image holds.
/// </summary>
[Category(TestCategories.Mount)]
[Category(TestCategories.Slow)]
public sealed class IoUringTransportTests : ScratchFixture
{
    [OneTimeSetUp]
    public void RequireKernelAndTools()
    {
        // The project's machines run 6.18: a kernel without the transport is a failure to report, not a skip.
        Assert.That(KernelFuseUring.Supported, Is.True, "this kernel has no FUSE over io_uring (6.14 or later with CONFIG_FUSE_IO_URING)");

        RequiredTools.Require("qemu-img");
        RequiredTools.Require("fio");
    }

    private string DataImage() =>
        Images.Qcow2(Scratch, "disk.qcow2", "64M", "write -P 0xab 1M 3M", "write -P 0x11 40M 100k", "write -z 1536k 64k", "write -P 0x5c 63M 1M");

    [Test]
    public void Mount_KernelOffersIoUring_ReadsMatchQemuAndGoThroughTheRings()
    {
        string image = DataImage();
        string mnt = Scratch.NewDirectory("mnt");
        string raw = Path.Combine(mnt, "disk.raw");
        using var kernel = KernelFuseUring.Set(true); // for the whole test: the kernel reads it again when the INIT reply comes
        Cli.Mount(image, mnt);

        int pid = Scratch.ServerPid(mnt) ?? throw new AssertionException("no pid file");
        var before = KernelFuseUring.RingsOf(pid);
        // 512 direct reads of 4 KiB and the whole file through the page cache (reads of up to 1 MiB).
        ProcessRunner.Output("dd", $"if={raw}", "of=/dev/null", "bs=4k", "count=512", "iflag=direct", "status=none");
        byte[] served = File.ReadAllBytes(raw);
        var after = KernelFuseUring.RingsOf(pid);

        Images.AssertSameBytes(served, Images.QemuRaw(Scratch, image), "read over io_uring");
        Assert.Multiple(() =>
        {
            Assert.That(after.Rings, Is.GreaterThan(0), "io_uring instances of the server");
            Assert.That(after.Completions - before.Completions, Is.GreaterThanOrEqualTo(512 + 64), "ring completions for the reads");
        });
        Cli.Unmount(mnt);
    }

    [Test]
    public void Write_OverIoUring_FioVerifiesAndQemuCheckAndCompareAreClean()
    {
        string image = DataImage();
        string mnt = Scratch.NewDirectory("mnt");
        string raw = Path.Combine(mnt, "disk.raw");
        var data = RandomNumberGenerator.GetBytes((2 << 20) + 4096);
        using var kernel = KernelFuseUring.Set(true); // for the whole test: the kernel reads it again when the INIT reply comes
        Cli.Mount(image, mnt);

        int pid = Scratch.ServerPid(mnt) ?? throw new AssertionException("no pid file");
        long before = KernelFuseUring.RingsOf(pid).Completions;
        // 4 KiB writes at QD16 (many entries at once), then 1 MiB writes (payloads as large as the kernel sends),
        // each read back and checked by fio; then buffered writes at an odd offset and fsync.
        Fio(raw, "randwrite", "4k", 16, "8M", "16M", "crc32c");
        Fio(raw, "write", "1M", 4, "24M", "16M", "md5");
        using (var file = File.OpenHandle(raw, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(file, data, (45 << 20) + 512);
            RandomAccess.FlushToDisk(file);
        }

        long written = KernelFuseUring.RingsOf(pid).Completions - before;
        string copy = Scratch.PathOf("served.raw");
        File.Copy(raw, copy);
        Cli.Unmount(mnt);

        var check = ProcessRunner.Capture("qemu-img", "check", image);
        Assert.Multiple(() =>
        {
            Assert.That(written, Is.GreaterThanOrEqualTo(2048 + 16), "ring completions for the writes and their verification");
            Assert.That(check.ExitCode, Is.Zero, "qemu-img check: " + check);
            Assert.That(ProcessRunner.Capture("qemu-img", "compare", "-f", "qcow2", "-F", "raw", image, copy).ExitCode, Is.Zero, "qemu-img compare with what was served");
        });
        Images.AssertSameBytes(Images.QemuRaw(Scratch, image).AsSpan((45 << 20) + 512, data.Length).ToArray(), data, "buffered write after unmount");
    }

    [Test]
    public void Mount_KernelIoUringOff_ServesThroughDevFuseWithoutRings()
    {
        string image = DataImage();
        string mnt = Scratch.NewDirectory("mnt");
        string raw = Path.Combine(mnt, "disk.raw");
        var data = RandomNumberGenerator.GetBytes(1 << 20);
        using var kernel = KernelFuseUring.Set(false); // for the whole test: the kernel reads it again when the INIT reply comes
        (int Rings, long Completions) rings;
        ProcessResult exit;
        using (var server = ForegroundServer.Start(image, mnt))
        {
            Images.AssertSameBytes(File.ReadAllBytes(raw), Images.QemuRaw(Scratch, image), "read over /dev/fuse");
            Fio(raw, "randwrite", "4k", 16, "8M", "8M", "crc32c");
            using (var file = File.OpenHandle(raw, FileMode.Open, FileAccess.ReadWrite))
            {
                RandomAccess.Write(file, data, 20 << 20);
                RandomAccess.FlushToDisk(file);
            }

            rings = KernelFuseUring.RingsOf(server.Pid);
            ProcessRunner.Output("umount", mnt);
            exit = server.WaitForExit(TimeSpan.FromSeconds(30));
        }

        Assert.Multiple(() =>
        {
            Assert.That(rings.Rings, Is.Zero, "io_uring instances of a server the kernel offered none");
            Assert.That(exit.ExitCode, Is.Zero, exit.ToString());
            Assert.That(exit.StandardError, Does.Not.Contain("io_uring"), "the server tried io_uring");
            Assert.That(ProcessRunner.Capture("qemu-img", "check", image).ExitCode, Is.Zero);
        });
        Images.AssertSameBytes(Images.QemuRaw(Scratch, image).AsSpan(20 << 20, data.Length).ToArray(), data, "write over /dev/fuse after unmount");
    }

    [TestCase("TERM")]
    [TestCase("umount")]
    public void Stop_ForegroundServerOverIoUring_UnmountsFlushesExitsZero(string how)
    {
        string image = DataImage();
        string mnt = Scratch.NewDirectory("mnt");
        var data = RandomNumberGenerator.GetBytes(512 << 10);
        using var kernel = KernelFuseUring.Set(true);
        using (var server = ForegroundServer.Start(image, mnt))
        {
            using (var file = File.OpenHandle(Path.Combine(mnt, "disk.raw"), FileMode.Open, FileAccess.Write))
            {
                RandomAccess.Write(file, data, 1 << 20); // no fsync: the clean shutdown makes it durable
            }

            Assert.That(KernelFuseUring.RingsOf(server.Pid).Completions, Is.GreaterThan(0), "requests over the rings");
            if (how == "umount")
            {
                ProcessRunner.Output("umount", mnt);
            }
            else
            {
                server.Signal(how);
            }

            var exit = server.WaitForExit(TimeSpan.FromSeconds(30));

            Assert.That(exit.ExitCode, Is.Zero, exit.ToString());
            Assert.That(Scratch.MountsUnder(mnt), Is.Empty);
        }

        Assert.That(ProcessRunner.Capture("qemu-img", "check", image).ExitCode, Is.Zero);
        Images.AssertSameBytes(Images.QemuRaw(Scratch, image).AsSpan(1 << 20, data.Length).ToArray(), data, "data written before shutdown");
    }

    /// <summary>A fio job that writes <paramref name="size"/> bytes at <paramref name="offset"/> and verifies each block by reading it back.</summary>
    private static void Fio(string file, string rw, string bs, int qd, string offset, string size, string verify) =>
        ProcessRunner.Output("fio", "--name=verify", $"--filename={file}", "--ioengine=libaio", "--direct=1", $"--rw={rw}", $"--bs={bs}",
            $"--iodepth={qd}", $"--offset={offset}", $"--size={size}", $"--verify={verify}", "--do_verify=1", "--verify_fatal=1",
            "--randseed=20261206", "--output-format=terse");
}
