using Qcow2Mount.Fuse.Uring;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>The io_uring transport's thread layout: /dev/fuse-like single-entry threads on small machines, bounded on large ones.</summary>
[Category(TestCategories.Unit)]
public sealed class FuseUringOptionsTests
{
    [TestCase(1, 8, 1)]
    [TestCase(2, 8, 1)]
    [TestCase(8, 8, 1)]
    [TestCase(16, 4, 2)]
    [TestCase(64, 1, 8)]
    [TestCase(256, 1, 8)]
    public void Layout_Defaults_EightThreadsOfOneEntryAtMost64ThreadsAtLeastEightEntriesPerQueue(int queues, int threads, int entries)
    {
        var layout = new FuseUringOptions().Layout(queues);

        Assert.That(layout, Is.EqualTo((threads, entries)));
        Assert.That(queues * layout.Threads, Is.LessThanOrEqualTo(Math.Max(64, queues)), "threads in all (one per queue past 64)");
        Assert.That(layout.Threads * layout.Entries, Is.GreaterThanOrEqualTo(8), "entries per queue");
    }

    [Test]
    public void Layout_Given_TakenAsGivenButAtLeastOne()
    {
        Assert.Multiple(() =>
        {
            Assert.That(new FuseUringOptions { ThreadsPerQueue = 1, EntriesPerThread = 16 }.Layout(2), Is.EqualTo((1, 16)));
            Assert.That(new FuseUringOptions { ThreadsPerQueue = 3 }.Layout(2), Is.EqualTo((3, 3)));
            Assert.That(new FuseUringOptions { ThreadsPerQueue = 0, EntriesPerThread = -1 }.Layout(2), Is.EqualTo((1, 1)));
        });
    }
}
