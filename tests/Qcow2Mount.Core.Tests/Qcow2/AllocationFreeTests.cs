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
}
