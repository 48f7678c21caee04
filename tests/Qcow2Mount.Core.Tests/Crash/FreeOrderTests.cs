using System.Globalization;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.TestSupport;
using Qcow2Mount.TestSupport.Crash;

namespace Qcow2Mount.Core.Tests.Crash;

/// <summary>
/// Freeing runs backwards: a refcount goes down only once the L1/L2 change that removed the reference is on stable
/// storage. Each case records one short operation and replays every distinct power-cut state of it; qemu-img check
/// must find no corruption in any (a refcount that dropped while the old pointer survived is one: the next ordinary
/// write frees and reuses a cluster a snapshot or the active table still uses).
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
public sealed class FreeOrderTests
{
    [Test]
    public void Discard_UnallocatedClusterInL2TableSharedWithSnapshot_NoCrashStateCorrupt()
    {
        // The discard copies the shared L2 table (new L1 entry, old table's refcount 2 → 1) and changes no entry in it.
        using var dir = new TempDir("free-order", "/dev/shm");
        string image = Prepare(dir, "cluster_size=4096", 8 << 20, "write -P 0x11 0 5M");
        QemuTools.CreateSnapshot(image, "s1");
        AssertEveryCrashStateConsistent(dir, image, new ImageOpenOptions(), disk =>
        {
            disk.Discard((5 << 20) + (64 << 10), 4096);
            disk.Flush();
        });
    }

    [Test]
    public void Shrink_UnallocatedTailOfL2TableSharedWithSnapshot_NoCrashStateCorrupt()
    {
        using var dir = new TempDir("free-order", "/dev/shm");
        string image = Prepare(dir, "cluster_size=4096", 8 << 20, "write -P 0x11 0 3M");
        QemuTools.CreateSnapshot(image, "s1");
        AssertEveryCrashStateConsistent(dir, image, new ImageOpenOptions(), disk => disk.Resize((3 << 20) + (512 << 10)));
    }

    [Test]
    public void Flush_DirtyL2SliceEvictedBeforeFlush_NoCrashStateCorrupt()
    {
        // The slice holding the discard's new entry is written back by an eviction (no sync); the flush that follows
        // has no dirty slice left, yet the refcount it lowers must still wait for that write to be stable.
        using var dir = new TempDir("free-order", "/dev/shm");
        string image = Prepare(dir, "cluster_size=4096", 8 << 20, "write -P 0x11 0 8M");
        var tinyCache = new ImageOpenOptions { CacheSize = 2 * 4096 };
        AssertEveryCrashStateConsistent(dir, image, tinyCache, disk =>
        {
            disk.Discard(0, 4096);
            var buffer = new byte[512];
            disk.Read(2 << 20, buffer);
            disk.Read(4 << 20, buffer);
            disk.Read(6 << 20, buffer);
            disk.Flush();
        });
    }

    [Test]
    public void Flush_NewMappingEvictedFromTinyCache_SyncedBeforeFlushReturns()
    {
        // Not a free, but the same hole: a slice written back by an eviction is stable only after a sync, and a flush
        // that finds nothing dirty any more must still sync it, or a write acknowledged by the flush is lost.
        using var dir = new TempDir("flush-order", "/dev/shm");
        string image = Prepare(dir, "cluster_size=4096", 8 << 20, "write -P 0x11 2M 6M");
        string work = dir.File("work.qcow2");
        File.Copy(image, work);
        var log = new StorageLog();
        int file = log.AddFile(work);
        var data = Enumerable.Range(0, 4096).Select(i => (byte)(i * 7)).ToArray();
        using (var disk = Qcow2Image.Open(log.Wrap(file, FileBlockDevice.Open(work, readOnly: false)), new ImageOpenOptions { CacheSize = 2 * 4096, CacheCleanIntervalSeconds = 0 }))
        {
            disk.Write(64 << 10, data);
            var buffer = new byte[512];
            disk.Read(2 << 20, buffer);
            disk.Read(4 << 20, buffer);
            disk.Read(6 << 20, buffer);
            disk.Flush();
            Assert.That(log.Unsynced(file), Is.Empty, "changes left unsynced when Flush returned");
        }

        // The power fails right after the flush returned and nothing unsynced survives.
        var generator = new CrashStateGenerator(log);
        foreach (var state in generator.Replay([new CrashPlan(log.Count, CrashPersistence.NothingUnflushed, 0)]))
        {
            state.WriteFile(0, image);
            using var recovered = Qcow2Image.Open(image, new ImageOpenOptions { ReadOnly = true });
            var back = new byte[data.Length];
            recovered.Read(64 << 10, back);
            Assert.That(back, Is.EqualTo(data), state.ToString());
        }
    }

    private static string Prepare(TempDir dir, string options, long size, params string[] prefill)
    {
        string image = dir.File("state.qcow2");
        QemuTools.QemuImg("create", "-q", "-f", "qcow2", "-o", options, image, size.ToString(CultureInfo.InvariantCulture));
        QemuTools.QemuIo(image, prefill);
        return image;
    }

    /// <summary>Runs <paramref name="operation"/> on a copy through a recording device, then checks every crash state in place.</summary>
    private static void AssertEveryCrashStateConsistent(TempDir dir, string image, ImageOpenOptions options, Action<Qcow2Image> operation)
    {
        string work = dir.File("work.qcow2");
        File.Copy(image, work);
        var log = new StorageLog();
        int file = log.AddFile(work);
        using (var disk = Qcow2Image.Open(log.Wrap(file, FileBlockDevice.Open(work, readOnly: false)), options with { CacheCleanIntervalSeconds = 0 }))
        {
            operation(disk);
        }

        var generator = new CrashStateGenerator(log);
        var failures = new List<string>();
        int states = 0;
        foreach (var state in generator.Replay(generator.Plan(new Random(1), int.MaxValue)))
        {
            state.WriteFile(0, image);
            states++;
            if (CrashReplayTests.QemuConsistency(image) is { } problem)
            {
                failures.Add($"{state}: {problem}");
            }
        }

        Assert.That(states, Is.GreaterThan(1), "crash states replayed");
        Assert.That(failures, Is.Empty, $"{failures.Count} of {states} crash states are corrupt:\n{string.Join("\n", failures.Take(3))}");
    }
}
