using System.Diagnostics;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Qcow2.Metadata;

/// <summary>
/// A 64 GiB sparse disk worked through a 1 MiB metadata cache: the L2 tables the workload touches (8 or 16 MiB)
/// never fit, so every step evicts, writes back and rereads. Content must equal a raw twin (read back through the
/// engine and by qemu-img compare), qemu-img check must be clean, and the caches must stay within their bound.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class SmallCacheWorkloadTests
{
    private const long DiskSize = 64L << 30;
    private const long CacheSize = 1L << 20;

    [TestCase("extended_l2=off,cluster_size=65536", 71)]
    [TestCase("extended_l2=on,cluster_size=65536", 72)]
    public void RandomReadWrite_64GiBDiskThrough1MiBCache_MatchesTwinChecksCleanStaysBounded(string options, int seed)
    {
        using var dir = new TempDir("smallcache");
        string image = dir.File("big.qcow2");
        string twin = dir.File("big.raw");
        QemuTools.Create(image, DiskSize, options.Split(',').Select(o => o.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]));
        using (var raw = File.OpenHandle(twin, FileMode.CreateNew, FileAccess.Write))
        {
            RandomAccess.SetLength(raw, DiskSize);
        }

        var workload = new RandomWorkload(seed, DiskSize, operationCount: 1000);
        long peakManaged = 0;
        var clock = Stopwatch.StartNew();
        int l2Capacity, l2Peak, refPeak, l2EntrySize;
        long l2Misses, refCapacityBytes, refEntrySize;
        using (var disk = Qcow2Image.Open(image, new ImageOpenOptions { CacheSize = CacheSize }))
        using (var twinHandle = File.OpenHandle(twin, FileMode.Open, FileAccess.ReadWrite))
        {
            // Writes, zero writes, discards and flushes in steps of 50, each step followed by reads of ranges
            // written so far, in random order: reads miss the cache as often as writes do.
            var random = new Random(seed);
            var written = new List<(long Offset, long Length)>();
            foreach (var chunk in workload.Operations.Chunk(50))
            {
                workload.Apply(disk, twinHandle, 0, chunk[0].Index..(chunk[^1].Index + 1));
                written.AddRange(chunk.Where(o => o.Length > 0).Select(o => (o.Offset, o.Length)));
                for (int r = 0; r < 40; r++)
                {
                    var (offset, length) = written[random.Next(written.Count)];
                    AssertSame(disk, twinHandle, offset, length, $"{workload}: read after op {chunk[^1].Index}");
                }

                peakManaged = Math.Max(peakManaged, GC.GetTotalMemory(false));
                Assert.That(disk.L2Cache.Bytes, Is.LessThanOrEqualTo(CacheSize), "L2 cache bytes within the bound");
            }

            foreach (var (offset, length) in written)
            {
                AssertSame(disk, twinHandle, offset, length, $"{workload}: final read");
            }

            l2Capacity = disk.L2Cache.Capacity;
            l2Peak = disk.L2Cache.PeakCount;
            l2EntrySize = disk.L2Cache.EntrySize;
            l2Misses = disk.L2Cache.Misses;
            refPeak = disk.RefcountCache.PeakCount;
            refEntrySize = disk.RefcountCache.EntrySize;
            refCapacityBytes = disk.RefcountCache.CapacityBytes;
        }

        var check = QemuTools.Check(image);
        var compare = QemuTools.CompareResult(image, twin);
        using var self = Process.GetCurrentProcess();
        TestContext.Out.WriteLine(
            $"{options}: {workload}, {clock.Elapsed.TotalSeconds:F1} s; L2 cache {l2Peak}/{l2Capacity} entries of {l2EntrySize} B at peak, " +
            $"{l2Misses} L2 misses; refcount cache peak {refPeak * refEntrySize} B of {refCapacityBytes} B; " +
            $"peak managed heap {peakManaged >> 20} MiB, peak RSS {self.PeakWorkingSet64 >> 20} MiB");
        Assert.Multiple(() =>
        {
            Assert.That((long)l2Peak * l2EntrySize, Is.LessThanOrEqualTo(CacheSize), "L2 cache peak bytes");
            Assert.That(l2Peak, Is.EqualTo(l2Capacity), "the workload filled the L2 cache");
            Assert.That(l2Misses, Is.GreaterThan(4L * l2Capacity), "the workload did not fit in the cache (it must evict)");
            Assert.That(refPeak * refEntrySize, Is.LessThanOrEqualTo(refCapacityBytes), "refcount cache peak bytes");
            Assert.That(check.IsClean, Is.True, $"{workload}: {check}");
            Assert.That(compare.ExitCode, Is.Zero, $"{workload}: qemu-img compare: {compare.StandardOutput}{compare.StandardError}");
        });
    }

    private static void AssertSame(Qcow2Image disk, Microsoft.Win32.SafeHandles.SafeFileHandle twin, long offset, long length, string what)
    {
        var ours = new byte[length];
        var theirs = new byte[length];
        disk.Read(offset, ours);
        DiskContent.ReadFully(twin, theirs, offset);
        int same = ours.AsSpan().CommonPrefixLength(theirs);
        Assert.That(same, Is.EqualTo(length), $"{what}: range 0x{offset:x}+{length} differs at byte {same}");
    }
}
