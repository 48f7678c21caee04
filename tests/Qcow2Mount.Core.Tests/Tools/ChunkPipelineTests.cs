using System.Collections.Concurrent;
using Qcow2Mount.Core.Tools;

namespace Qcow2Mount.Core.Tests.Tools;

[TestFixture]
[CancelAfter(30_000)]
[Category(TestCategories.Unit)]
public sealed class ChunkPipelineTests
{
    [Test]
    public void OrderedWrites_RunOneAtATimeInChunkOrder_WhileReadsOverlap()
    {
        const int count = 200;
        var written = new List<long>();
        int reading = 0, maxReading = 0, writing = 0, maxWriting = 0;
        ChunkPipeline.Run(count, workers: 4, orderedWrites: true, () => new long[1],
            (i, state) =>
            {
                int now = Interlocked.Increment(ref reading);
                InterlockedMax(ref maxReading, now);
                Thread.Sleep(i % 7 == 0 ? 3 : 0); // uneven reads, so later chunks finish reading first
                state[0] = i;
                Interlocked.Decrement(ref reading);
            },
            (i, state) =>
            {
                int now = Interlocked.Increment(ref writing);
                InterlockedMax(ref maxWriting, now);
                Assert.That(state[0], Is.EqualTo(i), "the write phase sees its own read's state");
                lock (written)
                {
                    written.Add(i);
                }

                Interlocked.Decrement(ref writing);
            });

        Assert.Multiple(() =>
        {
            Assert.That(written, Is.EqualTo(Enumerable.Range(0, count).Select(i => (long)i)));
            Assert.That(maxWriting, Is.EqualTo(1));
            Assert.That(maxReading, Is.GreaterThan(1), "reads of several chunks overlapped");
        });
    }

    [Test]
    public void UnorderedWrites_EveryChunkOnce()
    {
        var seen = new ConcurrentBag<long>();
        ChunkPipeline.Run(1000, workers: 4, orderedWrites: false, () => 0, (_, _) => { }, (i, _) => seen.Add(i));
        Assert.That(seen.Order(), Is.EqualTo(Enumerable.Range(0, 1000).Select(i => (long)i)));
    }

    [TestCase(true, "read")]
    [TestCase(true, "write")]
    [TestCase(false, "read")]
    [TestCase(false, "write")]
    public void FailureInAPhase_StopsTheOthersAndIsRethrown(bool ordered, string phase)
    {
        int started = 0;
        void Fail(long i, string where)
        {
            if (where == phase && i == 10)
            {
                throw new IOException($"chunk {i} failed in {where}");
            }
        }

        // The failure is seen by the others once the failing worker has caught it, and a first throw in a process can
        // take milliseconds, in which the other workers run thousands of these empty chunks (25,639 once in CI with a
        // bound of 1,000). So the bound is the end: with the check missing, all ten million chunks would start.
        const long count = 10_000_000;
        Assert.That(() => ChunkPipeline.Run(count, workers: 4, ordered, () => 0,
                (i, _) => { Interlocked.Increment(ref started); Fail(i, "read"); },
                (i, _) => Fail(i, "write")),
            Throws.InstanceOf<IOException>().With.Message.EqualTo($"chunk 10 failed in {phase}"));
        Assert.That(started, Is.LessThan(count / 10), "the workers stop after the failure instead of running to the end");
    }

    [Test]
    public void NoChunks_RunsNothing()
    {
        int calls = 0;
        ChunkPipeline.Run(0, workers: 4, orderedWrites: true, () => 0, (_, _) => calls++, (_, _) => calls++);
        Assert.That(calls, Is.Zero);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
