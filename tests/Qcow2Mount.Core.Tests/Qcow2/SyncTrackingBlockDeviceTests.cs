using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>
/// The sync tracker's group commit: a caller joins a flush under way only when that flush began after every change
/// the caller needs, shares its failure, and guest-data writes do not count as metadata.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Unit)]
public sealed class SyncTrackingBlockDeviceTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    /// <summary>How long a held sync waits for its release: past every wait of the test, so "while held" means it.</summary>
    private static readonly TimeSpan HoldLimit = TimeSpan.FromSeconds(60);

    [Test]
    public void FlushIfUnsynced_FlushUnderWayBeganAfterTheChanges_JoinsItWithoutASyncOfItsOwn()
    {
        using var release = new ManualResetEventSlim();
        using var held = new ManualResetEventSlim();
        var inner = new GatedBlockDevice(new MemoryBlockDevice(new byte[4096]));
        inner.BeforeFlush = n => Hold(n == 1, held, release);
        var file = new SyncTrackingBlockDevice(inner);
        file.Write(0, new byte[] { 1 });

        var first = Worker.Start(file.Flush);
        Assert.That(held.Wait(Timeout), "the first flush reached the file");
        var joiner = Worker.Start(file.FlushIfUnsynced);
        bool waited = joiner.WaitsWithin(Timeout);
        bool doneWhileHeld = joiner.Finished;
        release.Set();

        Assert.Multiple(() =>
        {
            Assert.That(first.Join(Timeout) && joiner.Join(Timeout), "both flushes returned");
            Assert.That(first.Error ?? joiner.Error, Is.Null);
            Assert.That(waited && !doneWhileHeld, "the second caller waited for the flush under way");
            Assert.That(inner.Flushes, Is.EqualTo(1), "one sync served both callers");
            Assert.That(file.HasUnsyncedChanges, Is.False);
        });
    }

    [Test]
    public void FlushIfUnsynced_ChangeMadeAfterTheFlushUnderWayBegan_SyncsOnItsOwn()
    {
        using var release = new ManualResetEventSlim();
        using var held = new ManualResetEventSlim();
        var inner = new GatedBlockDevice(new MemoryBlockDevice(new byte[4096]));
        inner.BeforeFlush = n => Hold(n == 1, held, release);
        var file = new SyncTrackingBlockDevice(inner);
        file.Write(0, new byte[] { 1 });

        var first = Worker.Start(file.Flush);
        Assert.That(held.Wait(Timeout), "the first flush reached the file");
        file.Data.Write(1, new byte[] { 2 });
        var second = Worker.Start(file.FlushIfUnsynced);
        bool secondDoneWhileHeld = second.Join(Timeout);
        bool unsyncedAfterSecond = file.HasUnsyncedChanges; // the first flush is still held
        release.Set();

        Assert.Multiple(() =>
        {
            Assert.That(secondDoneWhileHeld, "the later change got a sync of its own while the first was held");
            Assert.That(first.Join(Timeout), "the first flush returned");
            Assert.That(first.Error ?? second.Error, Is.Null);
            Assert.That(inner.Flushes, Is.EqualTo(2));
            Assert.That(unsyncedAfterSecond, Is.False, "a completed flush that began after every change marks them synced");
        });
    }

    [Test]
    public void FlushCovering_JoinedFlushFails_JoinerGetsItsErrorAndDoesNotSyncAgain()
    {
        using var release = new ManualResetEventSlim();
        using var held = new ManualResetEventSlim();
        var inner = new GatedBlockDevice(new MemoryBlockDevice(new byte[4096]));
        inner.BeforeFlush = n =>
        {
            Hold(n == 1, held, release);
            throw new IOException("disk.qcow2: fdatasync failed: Input/output error");
        };
        var file = new SyncTrackingBlockDevice(inner);
        file.Write(0, new byte[] { 1 });

        var first = Worker.Start(file.Flush);
        Assert.That(held.Wait(Timeout), "the first flush reached the file");
        var joiner = Worker.Start(() => file.FlushCovering(file.ChangeCount));
        bool waited = joiner.WaitsWithin(Timeout);
        release.Set();

        Assert.Multiple(() =>
        {
            Assert.That(first.Join(Timeout) && joiner.Join(Timeout), "both flushes returned");
            Assert.That(waited, "the second caller waited for the flush under way");
            Assert.That(first.Error, Is.TypeOf<IOException>());
            Assert.That(joiner.Error, Is.TypeOf<IOException>().With.Message.Contains("fdatasync failed"), "the failed sync was the joiner's too");
            Assert.That(inner.Flushes, Is.EqualTo(1), "a second sync could report success for pages the first lost");
            Assert.That(file.HasUnsyncedChanges, Is.True);
        });
    }

    [Test]
    public void Flush_NothingChangedSinceTheLastSync_StillSyncs_FlushIfUnsyncedDoesNot()
    {
        var inner = new GatedBlockDevice(new MemoryBlockDevice(new byte[4096]));
        var file = new SyncTrackingBlockDevice(inner);
        file.Write(0, new byte[] { 1 });
        file.FlushIfUnsynced();
        file.FlushIfUnsynced();
        file.FlushCovering(file.ChangeCount);
        int afterConditional = inner.Flushes;
        file.Flush();

        Assert.That((afterConditional, inner.Flushes), Is.EqualTo((1, 2)));
    }

    [Test]
    public void DataWrites_CountAsChangesButNotAsMetadata()
    {
        var inner = new GatedBlockDevice(new MemoryBlockDevice(new byte[4096]));
        var file = new SyncTrackingBlockDevice(inner);
        file.Write(0, new byte[] { 1 });
        long metadata = file.LastMetadataChange;
        file.Data.Write(512, new byte[] { 2 });
        file.Data.PunchHole(1024, 512);
        _ = file.Data.TryZeroRange(2048, 512);
        long afterData = file.LastMetadataChange;
        bool unsynced = file.HasUnsyncedChanges;
        file.Data.Flush();
        file.Data.Dispose(); // the view owns nothing: the file stays open
        file.Write(4095, new byte[] { 3 });

        Assert.Multiple(() =>
        {
            Assert.That((metadata, afterData), Is.EqualTo((1L, 1L)), "data writes leave the metadata count alone");
            Assert.That(file.ChangeCount, Is.EqualTo(5));
            Assert.That(file.LastMetadataChange, Is.EqualTo(5));
            Assert.That(unsynced, Is.True);
            Assert.That(inner.Flushes, Is.EqualTo(1), "a flush of the view syncs the file");
        });
    }

    /// <summary>Blocks the caller when <paramref name="hold"/> until <paramref name="release"/>, after signalling <paramref name="held"/>.</summary>
    private static void Hold(bool hold, ManualResetEventSlim held, ManualResetEventSlim release)
    {
        if (hold)
        {
            held.Set();
            release.Wait(HoldLimit);
        }
    }
}
