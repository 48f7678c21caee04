using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>
/// Issue 6: a read served from cached metadata and an overwrite of allocated data allocate nothing on the managed
/// heap (the BenchmarkDotNet numbers in benchmarks/ show the same per operation). Counted on the calling thread.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class AllocationFreeTests
{
    [TestCase("off")]
    [TestCase("on")]
    public void CachedRead_AndInPlaceOverwrite_AllocateNothing(string extendedL2)
    {
        using var dir = new TempDir("alloc-free");
        string image = dir.File("disk.qcow2");
        QemuTools.Create(image, 8L << 20, new Dictionary<string, string> { ["extended_l2"] = extendedL2, ["cluster_size"] = "65536" });
        QemuTools.QemuIo(image, "write -P 9 0 8M");
        var block = new byte[4096];
        var offsets = Enumerable.Range(0, 256).Select(i => (long)((i * 7919) % 2048) * 4096).ToArray();
        using var disk = Qcow2Image.Open(image);
        foreach (long offset in offsets)
        {
            disk.Read(offset, block); // warm the L2 cache
            disk.Write(offset, block);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        foreach (long offset in offsets)
        {
            disk.Read(offset, block);
        }

        long reads = GC.GetAllocatedBytesForCurrentThread() - before;
        before = GC.GetAllocatedBytesForCurrentThread();
        foreach (long offset in offsets)
        {
            disk.Write(offset, block);
        }

        long writes = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Multiple(() =>
        {
            Assert.That(reads, Is.Zero, "bytes allocated by 256 cached 4 KiB reads");
            Assert.That(writes, Is.Zero, "bytes allocated by 256 in-place 4 KiB overwrites");
            Assert.That(block, Is.All.EqualTo(9));
        });
    }

    /// <summary>
    /// Issue 18: a full L2 cache reuses the array of the table it evicts, so requests that miss all the time (random
    /// I/O over more tables than the cache holds, as on a big sparse image) allocate nothing either: a fresh 64 KiB array
    /// per miss grew a mount's heap to three times its cache. The tables read through recycled arrays must still be right.
    /// </summary>
    [Test]
    public void CacheMisses_WithFullCache_AllocateNothingAndReadTheRightTables()
    {
        using var dir = new TempDir("alloc-free-miss");
        string image = dir.File("disk.qcow2");
        const int tables = 32; // 4 KiB clusters: one L2 table maps 2 MiB
        QemuTools.Create(image, (long)tables << 21, new Dictionary<string, string> { ["cluster_size"] = "4096" });
        QemuTools.QemuIo(image, Enumerable.Range(0, tables).Select(t => $"write -P {t + 1} {(long)t << 21} 4k").ToArray());
        var block = new byte[4096];
        using var disk = Qcow2Image.Open(image, new ImageOpenOptions { CacheSize = 4 * 4096 });
        for (int t = 0; t < tables; t++)
        {
            disk.Read((long)t << 21, block); // fill the cache: every further read misses
        }

        var wrong = new List<int>();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int round = 0; round < 4; round++)
        {
            for (int t = 0; t < tables; t++)
            {
                disk.Read((long)t << 21, block);
                if (block[0] != t + 1 || block[4095] != t + 1)
                {
                    wrong.Add(t);
                }
            }
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Multiple(() =>
        {
            Assert.That(disk.L2Cache.Misses, Is.GreaterThanOrEqualTo(5 * tables), "every read missed the 4-table cache");
            Assert.That(allocated, Is.Zero, "bytes allocated by 128 reads that each missed the L2 cache");
            Assert.That(wrong, Is.Empty, "tables whose read returned another table's data");
        });
    }
}
