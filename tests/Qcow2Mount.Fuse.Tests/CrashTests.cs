using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Qcow2Mount.Fuse.Tests.Support;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>
/// kill -9 of a serving process at a random moment while data is being written and fsync'ed through the mount:
/// afterwards qemu-img check finds no corruption (leaks are allowed: a crash may lose refcount decrements), the
/// image mounts again (a lazy-refcounts image is repaired on that mount), and every batch whose fsync returned
/// before the kill reads back intact. Seeds name the round; the output lists what each round saw.
/// </summary>
[Category(TestCategories.Mount)]
[Category(TestCategories.Slow)]
public sealed class CrashTests : ScratchFixture
{
    /// <summary>Each batch owns one slot of the disk, so a later (unsynced) batch never overwrites an earlier one.</summary>
    private const int SlotSize = 1 << 20;

    private const int DiskSize = 192 << 20;

    [OneTimeSetUp]
    public void RequireTools()
    {
        RequiredTools.Require("qemu-img");
        RequiredTools.Require("losetup");
        RequiredTools.Require("mkfs.ext4");
    }

    [TestCase(1, "extended_l2=on,cluster_size=128k")]
    [TestCase(2, "extended_l2=off,cluster_size=64k")]
    [TestCase(3, "extended_l2=on,cluster_size=64k,lazy_refcounts=on")]
    [TestCase(4, "extended_l2=off,cluster_size=4k,lazy_refcounts=on")]
    public void KillNine_WhileWritingFsyncedBatches_CheckHasNoCorruptionAndSyncedBatchesSurvive(int seed, string options)
    {
        string image = Scratch.PathOf("disk.qcow2");
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", options, image, DiskSize.ToString(System.Globalization.CultureInfo.InvariantCulture));
        string mnt = Scratch.NewDirectory("mnt");
        string raw = Path.Combine(mnt, "disk.raw");
        Cli.Mount(image, mnt);
        int pid = Scratch.ServerPid(mnt) ?? throw new AssertionException("no pid file for the server");

        int committed = 0;
        Exception? writerError = null;
        var writer = new Thread(() =>
        {
            try
            {
                using var file = File.OpenHandle(raw, FileMode.Open, FileAccess.ReadWrite);
                for (int batch = 0; batch < DiskSize / SlotSize; batch++)
                {
                    var records = Batch(seed, batch);
                    if (batch % 2 == 1)
                    {
                        // A draft over the same ranges, then a hole punched over the slot: clusters are freed
                        // (deferred refcount decrements) and allocated again within one batch.
                        foreach (var (offset, data) in records)
                        {
                            RandomAccess.Write(file, data.Select(b => (byte)~b).ToArray(), offset);
                        }

                        var punch = ProcessRunner.Capture("fallocate", "-p", "-o", ((long)batch * SlotSize).ToString(System.Globalization.CultureInfo.InvariantCulture), "-l", SlotSize.ToString(System.Globalization.CultureInfo.InvariantCulture), raw);
                        if (punch.ExitCode != 0)
                        {
                            throw new IOException("fallocate -p: " + punch);
                        }
                    }

                    foreach (var (offset, data) in records)
                    {
                        RandomAccess.Write(file, data, offset);
                    }

                    RandomAccess.FlushToDisk(file);
                    Volatile.Write(ref committed, batch + 1);
                }
            }
            catch (Exception e)
            {
                writerError = e; // IOException once the server is gone: expected; anything else fails below
            }
        });
        writer.Start();

        var random = new Random(seed);
        var clock = Stopwatch.StartNew();
        while (Volatile.Read(ref committed) < 2 && writer.IsAlive && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            Thread.Sleep(10);
        }

        Thread.Sleep(random.Next(50, 1500));
        int committedBeforeKill = Volatile.Read(ref committed);
        Kill(pid);
        Assert.That(writer.Join(TimeSpan.FromSeconds(60)), Is.True, "the writer did not notice the dead server");
        Assert.That(writerError, Is.Null.Or.InstanceOf<IOException>(), writerError?.ToString());

        Cli.Unmount(mnt); // the dead mount answers ENOTCONN until unmounted
        var (exit, leaks, corruptions, text) = QemuCheck(image);
        TestContext.Out.WriteLine($"seed {seed} ({options}): {committedBeforeKill} batches fsync'ed before the kill " +
            $"(writer stopped by: {writerError?.Message ?? "none, finished"}); qemu-img check exit {exit}, {leaks} leaked clusters, {corruptions} corruptions");
        Assert.That(corruptions, Is.Zero, text);
        Assert.That(exit, Is.AnyOf(0, 3), text);
        Assert.That(committedBeforeKill, Is.GreaterThanOrEqualTo(2), "the kill came before any batch was written");
        bool lazy = options.Contains("lazy_refcounts=on", StringComparison.Ordinal);
        Assert.That(DirtyBit(image), Is.EqualTo(lazy), "the crash leaves the dirty bit exactly when lazy refcounts are on");

        Cli.Mount(image, mnt);
        using (var file = File.OpenHandle(raw))
        {
            for (int batch = 0; batch < committedBeforeKill; batch++)
            {
                foreach (var (offset, data) in Batch(seed, batch))
                {
                    var back = new byte[data.Length];
                    RandomAccess.Read(file, back, offset);
                    Images.AssertSameBytes(back, data, $"seed {seed}: batch {batch} record at 0x{offset:x}");
                }
            }
        }

        Cli.Unmount(mnt);
        var after = QemuCheck(image);
        Assert.That(after.Corruptions, Is.Zero, after.Text);
        Assert.That(DirtyBit(image), Is.False, "a clean unmount clears the dirty bit");
        if (lazy)
        {
            // The remount found the dirty bit and rebuilt the refcounts: not even the leaks remain.
            Assert.That(after.Exit, Is.Zero, "a dirty image is repaired on its next read-write open: " + after.Text);
        }
    }

    [Test]
    public void KillNine_Ext4OnLoopDevice_FilesSyncedBeforeTheKillSurvive()
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "256M");
        string mnt = Scratch.NewDirectory("mnt");
        string fs = Scratch.NewDirectory("fs");
        string raw = Path.Combine(mnt, "disk.raw");
        Cli.Mount(image, mnt);
        int pid = Scratch.ServerPid(mnt) ?? throw new AssertionException("no pid file for the server");
        string loop = ProcessRunner.Output("losetup", "-f", "--show", raw).Trim();
        ProcessRunner.Output("mkfs.ext4", "-q", "-E", "nodiscard,lazy_itable_init=0,lazy_journal_init=0", loop);
        ProcessRunner.Output("mount", loop, fs);

        var synced = new List<(string Name, byte[] Hash)>();
        int syncedCount = 0;
        var writer = new Thread(() =>
        {
            var random = new Random(5);
            var pending = new List<(string, byte[])>();
            try
            {
                for (int i = 0; i < 400; i++)
                {
                    var data = new byte[random.Next(4096, 600_000)];
                    random.NextBytes(data);
                    string name = $"f{i:D3}.bin";
                    File.WriteAllBytes(Path.Combine(fs, name), data);
                    pending.Add((name, SHA256.HashData(data)));
                    if (i % 5 == 4)
                    {
                        // syncfs(2) on the ext4 (sync -f): every dirty file's data and the journal, then a flush of
                        // the loop device, which fsyncs the raw file through the mount. A plain `sync DIR` would only
                        // fsync the directory and leave delayed-allocation data of the newest files in memory.
                        if (ProcessRunner.Capture("sync", "-f", fs).ExitCode != 0)
                        {
                            return;
                        }

                        lock (synced)
                        {
                            synced.AddRange(pending);
                            syncedCount = synced.Count;
                        }

                        pending.Clear();
                    }
                }
            }
            catch (Exception)
            {
                // The file system lost its device: expected after the kill (a thread must not throw).
            }
        });
        writer.Start();
        var clock = Stopwatch.StartNew();
        while (Volatile.Read(ref syncedCount) < 10 && writer.IsAlive && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            Thread.Sleep(10);
        }

        Thread.Sleep(new Random(6).Next(100, 1000));
        List<(string Name, byte[] Hash)> before;
        lock (synced)
        {
            before = [.. synced];
            Kill(pid);
        }

        Assert.That(writer.Join(TimeSpan.FromSeconds(180)), Is.True, "the writer hung after the kill");
        if (ProcessRunner.Capture("umount", fs).ExitCode != 0)
        {
            ProcessRunner.Output("umount", "-l", fs);
        }

        ProcessRunner.Capture("losetup", "-d", loop);
        Cli.Unmount(mnt);

        var (exit, leaks, corruptions, text) = QemuCheck(image);
        TestContext.Out.WriteLine($"ext4: {before.Count} files synced before the kill; qemu-img check exit {exit}, {leaks} leaked clusters, {corruptions} corruptions");
        Assert.That(corruptions, Is.Zero, text);
        Assert.That(before, Has.Count.GreaterThanOrEqualTo(10), "the kill came before the files were synced");

        Cli.Mount(image, mnt);
        loop = ProcessRunner.Output("losetup", "-f", "--show", raw).Trim();
        var fsck = ProcessRunner.Capture("e2fsck", "-fy", loop);
        Assert.That(fsck.ExitCode, Is.LessThanOrEqualTo(1), "e2fsck after journal replay: " + fsck);
        ProcessRunner.Output("mount", loop, fs);
        Assert.Multiple(() =>
        {
            foreach (var (name, hash) in before)
            {
                string path = Path.Combine(fs, name);
                Assert.That(File.Exists(path) ? SHA256.HashData(File.ReadAllBytes(path)) : null, Is.EqualTo(hash), name);
            }
        });
        ProcessRunner.Output("umount", fs);
        ProcessRunner.Output("losetup", "-d", loop);
        Cli.Unmount(mnt);
        Assert.That(QemuCheck(image).Corruptions, Is.Zero);
    }

    /// <summary>Records of one batch: 1–8 pieces of random size and place inside the batch's own slot.</summary>
    private static List<(long Offset, byte[] Data)> Batch(int seed, int batch)
    {
        var random = new Random((seed * 1_000_003) + batch);
        var records = new List<(long, byte[])>();
        int count = random.Next(1, 9);
        int piece = SlotSize / count;
        for (int r = 0; r < count; r++)
        {
            int length = random.Next(1, piece);
            int at = random.Next(0, piece - length + 1);
            var data = new byte[length];
            random.NextBytes(data);
            records.Add(((long)batch * SlotSize + (r * piece) + at, data));
        }

        return records;
    }

    /// <summary>Incompatible feature bit 0 of the header (byte 79 holds bits 0–7).</summary>
    private static bool DirtyBit(string image)
    {
        using var file = File.OpenHandle(image);
        var b = new byte[1];
        RandomAccess.Read(file, b, 79);
        return (b[0] & 1) != 0;
    }

    private static void Kill(int pid) => Assert.That(Scratch.KillServer(pid), Is.True, "the server was running");

    private static (int Exit, long Leaks, long Corruptions, string Text) QemuCheck(string image)
    {
        var result = ProcessRunner.Capture("qemu-img", "check", "--output=json", image);
        long leaks = 0, corruptions = 0;
        if (result.StandardOutput.TrimStart().StartsWith('{'))
        {
            using var json = JsonDocument.Parse(result.StandardOutput);
            leaks = json.RootElement.TryGetProperty("leaks", out var l) ? l.GetInt64() : 0;
            corruptions = json.RootElement.TryGetProperty("corruptions", out var c) ? c.GetInt64() : 0;
        }

        return (result.ExitCode, leaks, corruptions, result.ToString());
    }
}
