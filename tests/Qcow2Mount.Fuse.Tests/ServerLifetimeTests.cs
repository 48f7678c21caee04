using System.Globalization;
using System.Security.Cryptography;
using Qcow2Mount.Fuse.Tests.Support;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>How a server ends: signals, external unmounts, qcow2mount unmount, and a crash (kill -9).</summary>
[Category(TestCategories.Mount)]
[Category(TestCategories.Slow)]
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
        var check = ProcessRunner.Capture("qemu-img", "check", image);
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

        Assert.Multiple(() =>
        {
            Assert.That(exit.ExitCode, Is.Zero, exit.ToString());
            Assert.That(exit.StandardError, Is.Empty, "a signal stop is not an error: nothing on stderr");
            Assert.That(Scratch.MountsUnder(mnt), Is.Empty);
        });
        AssertImageHolds(image, data);
    }

    /// <summary>Waits until the FUSE mount at <paramref name="mnt"/> is gone from the mount table (a lazy detach is immediate).</summary>
    private static void WaitForDetach(string mnt)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (Scratch.MountsUnder(mnt).Any(m => m.Point == mnt) && clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            Thread.Sleep(20);
        }

        Assert.That(Scratch.MountsUnder(mnt).Where(m => m.Point == mnt), Is.Empty, "the signal did not detach the mount");
    }

    /// <summary>
    /// A signal detaches the mount but does not pull the disk from under whoever has the file open: reads, writes and
    /// fsync keep working on the open descriptor, and the server flushes and exits when it is closed.
    /// </summary>
    [TestCase("TERM")]
    [TestCase("INT")]
    [TestCase("HUP")]
    public void Signal_FileHeldOpen_DetachesKeepsServingItExitsWhenItCloses(string signal)
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "8M");
        string mnt = Scratch.NewDirectory("mnt");
        var first = RandomNumberGenerator.GetBytes(256 << 10);
        var second = RandomNumberGenerator.GetBytes(256 << 10);
        using var server = ForegroundServer.Start(image, mnt);
        var back = new byte[first.Length];
        using (var file = File.OpenHandle(Path.Combine(mnt, "disk.raw"), FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(file, first, 1 << 20);

            server.Signal(signal);
            WaitForDetach(mnt);
            Thread.Sleep(300);
            Assert.That(server.HasExited, Is.False, "the server quit while the file was open");

            RandomAccess.Write(file, second, 3 << 20);
            RandomAccess.FlushToDisk(file);
            RandomAccess.Read(file, back, 1 << 20);
        }

        var exit = server.WaitForExit(TimeSpan.FromSeconds(30));
        Assert.Multiple(() =>
        {
            Assert.That(exit.ExitCode, Is.Zero, exit.ToString());
            Assert.That(exit.StandardError.Trim(), Is.EqualTo($"qcow2mount: {mnt}: unmounted; still serving the files that are open (a loop device counts) until they are closed; signal again to stop now"));
        });
        Images.AssertSameBytes(back, first, "read through the detached mount");
        AssertImageHolds(image, first);
        Images.AssertSameBytes(Images.QemuRaw(Scratch, image).AsSpan(3 << 20, second.Length).ToArray(), second, "written after the signal");
    }

    /// <summary>A second signal does not wait for open files: the server flushes what it has and exits.</summary>
    [Test]
    public void SecondSignal_FileHeldOpen_FlushesAndExits()
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "8M");
        string mnt = Scratch.NewDirectory("mnt");
        var data = RandomNumberGenerator.GetBytes(512 << 10);
        using var server = ForegroundServer.Start(image, mnt);
        using var file = File.OpenHandle(Path.Combine(mnt, "disk.raw"), FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.Write(file, data, 1 << 20);

        server.Signal("TERM");
        WaitForDetach(mnt);
        Assert.That(server.HasExited, Is.False, "the first signal must only detach");
        server.Signal("TERM");
        var exit = server.WaitForExit(TimeSpan.FromSeconds(30));

        Assert.That(exit.ExitCode, Is.Zero, exit.ToString());
        AssertImageHolds(image, data);
        Assert.That(() => RandomAccess.Read(file, new byte[4096], 0), Throws.InstanceOf<IOException>(), "the forced stop ended the connection");
    }

    /// <summary>
    /// The use the signal handling exists for: ext4 on a loop device over the raw file. After SIGTERM the mount is
    /// detached, the file system keeps working (the loop device holds the file), and once it is unmounted and the loop
    /// device detached the server flushes and exits 0; every file written before and after the signal is in the image.
    /// </summary>
    [Test]
    public void Signal_Ext4OnLoopDeviceOverTheFile_KeepsServingUntilTheLoopDeviceIsDetached()
    {
        RequiredTools.Require("losetup");
        RequiredTools.Require("mkfs.ext4");
        string image = Images.Qcow2(Scratch, "disk.qcow2", "64M");
        string mnt = Scratch.NewDirectory("mnt");
        string fs = Scratch.NewDirectory("fs");
        using var server = ForegroundServer.Start(image, mnt);
        string loop = ProcessRunner.Output("losetup", "-f", "--show", Path.Combine(mnt, "disk.raw")).Trim();
        int kernelLogLines = ProcessRunner.Output("dmesg").Split('\n').Length;
        ProcessRunner.Output("mkfs.ext4", "-q", "-E", "nodiscard", loop);
        ProcessRunner.Output("mount", loop, fs);
        var random = new Random(10);
        var files = new Dictionary<string, byte[]>();
        void WriteFiles(string prefix)
        {
            for (int i = 0; i < 20; i++)
            {
                var content = new byte[random.Next(1, 400_000)];
                random.NextBytes(content);
                files[$"{prefix}{i}.bin"] = content;
                File.WriteAllBytes(Path.Combine(fs, $"{prefix}{i}.bin"), content);
            }

            ProcessRunner.Output("sync", "-f", fs);
        }

        WriteFiles("before");
        server.Signal("TERM");
        WaitForDetach(mnt);
        WriteFiles("after");
        ProcessRunner.Output("umount", fs);
        Assert.That(server.HasExited, Is.False, "the loop device still holds the file");
        ProcessRunner.Output("losetup", "-d", loop);
        var exit = server.WaitForExit(TimeSpan.FromSeconds(30));
        string device = Path.GetFileName(loop);
        var kernelErrors = ProcessRunner.Output("dmesg").Split('\n').Skip(kernelLogLines - 1)
            .Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, $@"\b{device}\b") && l.Contains("error", StringComparison.OrdinalIgnoreCase));

        Assert.Multiple(() =>
        {
            Assert.That(kernelErrors, Is.Empty, "kernel log: I/O or EXT4-fs errors on the loop device");
            Assert.That(exit.ExitCode, Is.Zero, exit.ToString());
            Assert.That(exit.StandardError, Does.Not.Contain("fail").And.Not.Contain("not a mount point"));
        });
        var check = ProcessRunner.Capture("qemu-img", "check", image);
        Assert.That(check.ExitCode, Is.Zero, "qemu-img check: " + check);
        string copy = Scratch.PathOf("copy.raw");
        QemuTools.Ok("qemu-img", "convert", "-O", "raw", image, copy);
        string verify = ProcessRunner.Output("losetup", "-r", "-f", "--show", copy).Trim();
        ProcessRunner.Output("mount", "-o", "ro,noload", verify, fs);
        try
        {
            Assert.Multiple(() =>
            {
                foreach (var (name, content) in files)
                {
                    Assert.That(SHA256.HashData(File.ReadAllBytes(Path.Combine(fs, name))), Is.EqualTo(SHA256.HashData(content)), name);
                }
            });
        }
        finally
        {
            ProcessRunner.Capture("umount", fs);
            ProcessRunner.Capture("losetup", "-d", verify);
        }
    }

    /// <summary>
    /// The server's own descriptors are close-on-exec (children such as fusermount3 must not inherit /dev/fuse), and a
    /// background server closes what it inherited from its caller (a pipe held open keeps the caller waiting).
    /// </summary>
    [Test]
    public void BackgroundServer_InheritedDescriptorClosedAndEveryOtherCloseOnExec()
    {
        string image = Scratch.RawImage("disk.img", 1 << 20);
        string mnt = Scratch.NewDirectory("mnt");
        string marker = Scratch.RawImage("inherited.bin", 4096);

        var mount = ProcessRunner.Capture("sh", "-c", "exec 7<\"$0\"; exec dotnet \"$@\"", marker, Cli.DllPath, image, mnt);
        Assert.That(mount.ExitCode, Is.Zero, mount.ToString());
        var descriptors = Descriptors(Scratch.ServerPid(mnt) ?? throw new AssertionException("no pid file"));

        Assert.Multiple(() =>
        {
            Assert.That(descriptors.Where(d => d.Target == marker), Is.Empty, "the descriptor inherited from the caller");
            Assert.That(descriptors.Where(d => d.Target == "/dev/fuse"), Is.Not.Empty);
            Assert.That(descriptors.Where(d => d.Number > 2 && !d.CloseOnExec).Select(d => $"{d.Number} {d.Target}"), Is.Empty, "descriptors a child would inherit");
        });
    }

    /// <summary>
    /// A caller that stops reading before the mount is up (<c>qcow2mount a.qcow2 mnt | head -0</c>): the command's line
    /// naming the raw file meets a pipe with no reader (EPIPE; SIGPIPE too where the caller has not ignored it, which
    /// the runtime ignores). The line is dropped; the exit code still says the mount is up, and it is.
    /// </summary>
    [Test]
    public void BackgroundMount_StdoutReaderGone_ExitsZeroAndServes()
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "8M");
        string mnt = Scratch.NewDirectory("mnt");
        string fifo = Scratch.PathOf("stdout.fifo");

        // Open the FIFO for reading and writing (never blocks), then for writing alone, close the reader: fd 5 is a
        // pipe nobody will read. SIGPIPE back to its default, as in a shell's pipeline (unless it was ignored on entry).
        var mount = ProcessRunner.Capture("sh", "-c",
            "trap - PIPE; mkfifo \"$0\" && exec 4<>\"$0\" 5>\"$0\" && exec 4<&- && exec dotnet \"$@\" >&5 5>&-",
            fifo, Cli.DllPath, image, mnt);

        Assert.Multiple(() =>
        {
            Assert.That(mount.ExitCode, Is.Zero, mount.ToString());
            Assert.That(mount.StandardError, Is.Empty);
            Assert.That(File.Exists(Path.Combine(mnt, "disk.raw")), Is.True, "disk.raw served");
        });
        Cli.Unmount(mnt);
    }

    [Test]
    public void ForegroundServer_InheritedDescriptorNotPassedOnAndEveryOtherCloseOnExec()
    {
        string image = Scratch.RawImage("disk.img", 1 << 20);
        string mnt = Scratch.NewDirectory("mnt");
        string marker = Scratch.RawImage("inherited.bin", 4096);
        using var server = ForegroundServer.StartHolding(marker, image, mnt);

        var descriptors = Descriptors(server.Pid);

        Assert.Multiple(() =>
        {
            Assert.That(descriptors.Where(d => d.Target == "/dev/fuse"), Is.Not.Empty);
            Assert.That(descriptors.Where(d => d.Number > 2 && !d.CloseOnExec).Select(d => $"{d.Number} {d.Target}"), Is.Empty, "descriptors a child would inherit");
        });
    }

    /// <summary>The open descriptors of a process: number, what it points to, whether O_CLOEXEC is set (fdinfo flags).</summary>
    private static List<(int Number, string Target, bool CloseOnExec)> Descriptors(int pid)
    {
        var list = new List<(int, string, bool)>();
        foreach (string entry in Directory.GetFileSystemEntries($"/proc/{pid}/fd"))
        {
            try
            {
                int number = int.Parse(Path.GetFileName(entry), System.Globalization.CultureInfo.InvariantCulture);
                string target = new FileInfo(entry).LinkTarget ?? "";
                if (System.Text.RegularExpressions.Regex.IsMatch(target, @"^/proc/\d+/task/\d+/comm$"))
                {
                    // Not ours: the runtime names a thread it starts through glibc's pthread_setname_np, which opens
                    // that thread's comm file without O_CLOEXEC for the length of one write.
                    continue;
                }

                string flags = File.ReadLines($"/proc/{pid}/fdinfo/{number}").First(l => l.StartsWith("flags:", StringComparison.Ordinal))[6..].Trim();
                list.Add((number, target, (Convert.ToInt64(flags, 8) & 0x80000 /* O_CLOEXEC, 02000000 */) != 0));
            }
            catch (IOException)
            {
                // Closed while we looked.
            }
        }

        Assert.That(list, Is.Not.Empty);
        return list;
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

        ProcessRunner.Output(program, option is null ? [mnt] : [option, mnt]);
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

    /// <summary>SIGTERM, the usual stop of a daemon (and workload 6's), to a detached server: a clean unmount like unmount's.</summary>
    [Test]
    public void Sigterm_BackgroundServer_UnmountsFlushesAndExits()
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "8M");
        string mnt = Scratch.NewDirectory("mnt");
        string log = Scratch.PathOf("server.log");
        var data = RandomNumberGenerator.GetBytes(1 << 20);
        Cli.Mount(image, mnt, "--log", log);
        int pid = Scratch.ServerPid(mnt) ?? throw new AssertionException("no pid file");
        WriteUnsynced(Path.Combine(mnt, "disk.raw"), data);

        Assert.That(ProcessRunner.Capture("kill", "-TERM", pid.ToString(CultureInfo.InvariantCulture)).ExitCode, Is.Zero);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (Scratch.ServerPid(mnt) is not null && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            Thread.Sleep(20);
        }

        Assert.Multiple(() =>
        {
            Assert.That(Scratch.ServerPid(mnt), Is.Null, "the server did not exit (its pid file is removed after the images are closed)");
            Assert.That(Scratch.MountsUnder(mnt), Is.Empty);
            Assert.That(File.ReadAllText(log), Is.Empty, "a signal stop is not an error: nothing in the log");
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

        Assert.That(Scratch.KillServer(Scratch.ServerPid(mnt)!.Value), Is.True, "the server was running");

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
        Assert.That(ProcessRunner.Capture("qemu-img", "check", image).ExitCode, Is.AnyOf(0, 3), "no corruption (leaks allowed after a crash)");
    }
}
