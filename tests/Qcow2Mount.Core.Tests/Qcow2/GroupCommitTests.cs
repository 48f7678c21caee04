using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>
/// A flush's last sync runs outside the metadata lock: other requests map and write while it runs, a flush that needs
/// nothing newer shares it, and one that needs the metadata another flush wrote waits for that flush's sync. The
/// file's sync is held at a chosen call to force each interleaving; the image checks clean and reads back in QEMU.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
public sealed class GroupCommitTests
{
    private const int Cluster = 64 << 10;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    /// <summary>How long a held sync waits for its release: past every wait of the test, so "while held" means it.</summary>
    private static readonly TimeSpan HoldLimit = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Writes in place, then fsync: the flush has no metadata to write, so its one sync runs outside the lock. It
    /// used to run under it, and a write to another allocated cluster waited for the sync to map its cluster.
    /// </summary>
    [Test]
    public void Flush_ItsSyncHeld_WriteToAnotherClusterLandsAndItsOwnFlushSyncsMeanwhile()
    {
        using var dir = new TempDir("group-commit");
        string image = dir.File("disk.qcow2");
        QemuTools.Create(image, 16L << 20, new Dictionary<string, string> { ["cluster_size"] = $"{Cluster}", ["extended_l2"] = "on" });
        using var held = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var file = new GatedBlockDevice(FileBlockDevice.Open(image, readOnly: false));
        bool writeLanded, ownSyncDone;
        int syncsWhileHeld;
        Exception? error;
        using (var disk = Qcow2Image.Open(file, new ImageOpenOptions()))
        {
            disk.Write(0, Filled(2 * Cluster, 0x01)); // two allocated clusters
            disk.Flush();
            disk.Write(0, Filled(4096, 0x11));
            int first = file.Flushes + 1;
            file.BeforeFlush = n => Hold(n == first, held, release);
            try
            {
                var flusher = Worker.Start(disk.Flush);
                Assert.That(held.Wait(Timeout), "the flush reached its sync");
                var writer = Worker.Start(() => disk.Write(Cluster, Filled(4096, 0x22)));
                writeLanded = writer.Join(Timeout);

                // This flush's write came after the held sync began: it cannot share it.
                var second = Worker.Start(disk.Flush);
                ownSyncDone = second.Join(Timeout);
                syncsWhileHeld = file.Flushes - first + 1;
                release.Set();
                Assert.That(flusher.Join(Timeout), "the held flush returned");
                error = flusher.Error ?? writer.Error ?? second.Error;
            }
            finally
            {
                release.Set();
            }

            file.BeforeFlush = null;
        }

        Assert.Multiple(() =>
        {
            Assert.That(error, Is.Null);
            Assert.That(writeLanded, "a write to another allocated cluster landed while the sync ran");
            Assert.That(ownSyncDone, "the later write's flush synced on its own while the first sync was held");
            Assert.That(syncsWhileHeld, Is.EqualTo(2));
            Assert.That(QemuTools.Check(image).IsClean, "qemu-img check");
            Assert.DoesNotThrow(() => QemuTools.QemuIo(image, "read -P 0x11 0 4096", $"read -P 0x01 4096 {Cluster - 4096}", $"read -P 0x22 {Cluster} 4096"));
        });
    }

    /// <summary>
    /// Flush A holds the lock through its ordering sync (data and refcount blocks) while flush B waits for the lock;
    /// then A writes the L2 slice that maps B's write too and syncs it outside the lock. B finds nothing left to write,
    /// but its mapping is on disk only once A's last sync completes: B must wait for it (sharing it, not a third sync).
    /// A flush that counted only the changes made before its call would have returned on A's ordering sync.
    /// </summary>
    [Test]
    public void Flush_AnotherFlushWroteItsMapping_WaitsForThatFlushsLastSync()
    {
        using var dir = new TempDir("group-commit-mapping");
        string image = dir.File("disk.qcow2");
        QemuTools.Create(image, 16L << 20, new Dictionary<string, string> { ["cluster_size"] = $"{Cluster}", ["extended_l2"] = "on" });
        using var orderingHeld = new ManualResetEventSlim();
        using var releaseOrdering = new ManualResetEventSlim();
        using var lastHeld = new ManualResetEventSlim();
        using var releaseLast = new ManualResetEventSlim();
        var file = new GatedBlockDevice(FileBlockDevice.Open(image, readOnly: false));
        bool bWaited, bDoneBeforeLastSync;
        int syncs;
        Exception? error;
        using (var disk = Qcow2Image.Open(file, new ImageOpenOptions()))
        {
            disk.Write(0, Filled(4096, 0x01));
            disk.Flush();
            disk.Write(Cluster, Filled(4096, 0x22)); // a new cluster: a refcount and an L2 entry to write back
            int ordering = file.Flushes + 1;
            file.BeforeFlush = n =>
            {
                Hold(n == ordering, orderingHeld, releaseOrdering);
                Hold(n == ordering + 1, lastHeld, releaseLast);
            };
            try
            {
                var a = Worker.Start(disk.Flush);
                Assert.That(orderingHeld.Wait(Timeout), "flush A reached its ordering sync");
                var b = Worker.Start(disk.Flush);
                bWaited = b.WaitsWithin(Timeout); // for the metadata lock
                releaseOrdering.Set();
                Assert.That(lastHeld.Wait(Timeout), "flush A reached its last sync, outside the lock");
                bDoneBeforeLastSync = b.Join(TimeSpan.FromMilliseconds(500));
                syncs = file.Flushes - ordering + 1;
                releaseLast.Set();
                Assert.That(a.Join(Timeout) && b.Join(Timeout), "both flushes returned");
                error = a.Error ?? b.Error;
            }
            finally
            {
                releaseOrdering.Set();
                releaseLast.Set();
            }

            file.BeforeFlush = null;
        }

        Assert.Multiple(() =>
        {
            Assert.That(error, Is.Null);
            Assert.That(bWaited, "flush B waited for the lock");
            Assert.That(bDoneBeforeLastSync, Is.False, "flush B returned before the sync that makes its mapping stable");
            Assert.That(syncs, Is.EqualTo(2), "flush B shared flush A's last sync");
            Assert.That(QemuTools.Check(image).IsClean, "qemu-img check");
            Assert.DoesNotThrow(() => QemuTools.QemuIo(image, "read -P 0x01 0 4096", $"read -P 0x22 {Cluster} 4096"));
        });
    }

    private static void Hold(bool hold, ManualResetEventSlim held, ManualResetEventSlim release)
    {
        if (hold)
        {
            held.Set();
            release.Wait(HoldLimit);
        }
    }

    private static byte[] Filled(int length, byte value)
    {
        var data = new byte[length];
        Array.Fill(data, value);
        return data;
    }
}
