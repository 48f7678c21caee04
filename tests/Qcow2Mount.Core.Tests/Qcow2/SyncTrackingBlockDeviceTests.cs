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
        using var held = new FirstFlushHeld(failing: false);
        var joiner = Worker.Start(held.File.FlushIfUnsynced);
        bool waited = joiner.WaitsWithin(Timeout);
        bool doneWhileHeld = joiner.Finished;
        held.Release();

        Assert.Multiple(() =>
        {
            Assert.That(held.First.Join(Timeout) && joiner.Join(Timeout), "both flushes returned");
            Assert.That(held.First.Error ?? joiner.Error, Is.Null);
            Assert.That(waited && !doneWhileHeld, "the second caller waited for the flush under way");
            Assert.That(held.Inner.Flushes, Is.EqualTo(1), "one sync served both callers");
            Assert.That(held.File.HasUnsyncedChanges, Is.False);
        });
    }

    [Test]
    public void FlushIfUnsynced_ChangeMadeAfterTheFlushUnderWayBegan_SyncsOnItsOwn()
    {
        using var held = new FirstFlushHeld(failing: false);
        held.File.Data.Write(1, new byte[] { 2 });
        var second = Worker.Start(held.File.FlushIfUnsynced);
        bool secondDoneWhileHeld = second.Join(Timeout);
        bool unsyncedAfterSecond = held.File.HasUnsyncedChanges; // the first flush is still held
        held.Release();

        Assert.Multiple(() =>
        {
            Assert.That(secondDoneWhileHeld, "the later change got a sync of its own while the first was held");
            Assert.That(held.First.Join(Timeout), "the first flush returned");
            Assert.That(held.First.Error ?? second.Error, Is.Null);
            Assert.That(held.Inner.Flushes, Is.EqualTo(2));
            Assert.That(unsyncedAfterSecond, Is.False, "a completed flush that began after every change marks them synced");
        });
    }

    [Test]
    public void FlushCovering_JoinedFlushFails_JoinerGetsItsErrorAndDoesNotSyncAgain()
    {
        using var held = new FirstFlushHeld(failing: true);
        var joiner = Worker.Start(() => held.File.FlushCovering(held.File.ChangeCount));
        bool waited = joiner.WaitsWithin(Timeout);
        held.Release();

        Assert.Multiple(() =>
        {
            Assert.That(held.First.Join(Timeout) && joiner.Join(Timeout), "both flushes returned");
            Assert.That(waited, "the second caller waited for the flush under way");
            Assert.That(held.First.Error, Is.TypeOf<IOException>());
            Assert.That(joiner.Error, Is.TypeOf<IOException>().With.Message.Contains("fdatasync failed"), "the failed sync was the joiner's too");
            Assert.That(held.Inner.Flushes, Is.EqualTo(1), "a second sync could report success for pages the first lost");
            Assert.That(held.File.HasUnsyncedChanges, Is.True);
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

    /// <summary>A tracked file with one change, whose first flush runs on a worker and is held in the file until <see cref="Release"/>.</summary>
    private sealed class FirstFlushHeld : IDisposable
    {
        private readonly ManualResetEventSlim _held = new();
        private readonly ManualResetEventSlim _release = new();

        /// <param name="failing">Every flush of the file fails (after the first is released).</param>
        public FirstFlushHeld(bool failing)
        {
            Inner = new GatedBlockDevice(new MemoryBlockDevice(new byte[4096]));
            Inner.BeforeFlush = n =>
            {
                if (n == 1)
                {
                    _held.Set();
                    _release.Wait(HoldLimit);
                }

                if (failing)
                {
                    throw new IOException("disk.qcow2: fdatasync failed: Input/output error");
                }
            };
            File = new SyncTrackingBlockDevice(Inner);
            File.Write(0, new byte[] { 1 });
            First = Worker.Start(File.Flush);
            Assert.That(_held.Wait(Timeout), "the first flush reached the file");
        }

        public GatedBlockDevice Inner { get; }

        public SyncTrackingBlockDevice File { get; }

        public Worker First { get; }

        public void Release() => _release.Set();

        public void Dispose()
        {
            _release.Set();
            First.Join(Timeout);
            _held.Dispose();
            _release.Dispose();
        }
    }
}
