using Qcow2Mount.Core.Qcow2.Bitmaps;

namespace Qcow2Mount.Core.Tests.Qcow2.Bitmaps;

/// <summary><see cref="DirtyGranules"/>: the spec's bit layout (LSB first, one cluster of bits per table entry) and its memory: one cluster per touched entry, whatever the disk size.</summary>
[TestFixture]
[Category(TestCategories.Unit)]
public sealed class DirtyGranulesTests
{
    [TestCase(0L, 1L, 0L, 0L)]
    [TestCase(511L, 2L, 0L, 1L)]
    [TestCase(512L, 512L, 1L, 1L)]
    [TestCase(1000L, 10000L, 1L, 21L)]
    public void Mark_Range_SetsExactlyTheTouchedGranules(long offset, long length, long first, long last)
    {
        var geo = new BitmapGeometry(1 << 20, 9, 512);
        var dirty = new DirtyGranules(geo);
        dirty.Mark(offset, length);
        var chunk = dirty.Take(0)!;
        var set = Enumerable.Range(0, chunk.Length * 8).Where(b => (chunk[b / 8] & (1 << (b % 8))) != 0).Select(b => (long)b).ToList();
        Assert.That(set, Is.EqualTo(Enumerable.Range((int)first, (int)(last - first + 1)).Select(b => (long)b)));
    }

    [Test]
    public void Mark_AcrossTableEntries_OneChunkPerEntryTouched()
    {
        // 512-byte clusters hold 4096 bits: at 512-byte granularity one chunk covers 2 MiB of guest.
        var dirty = new DirtyGranules(new BitmapGeometry(64 << 20, 9, 512));
        int created = dirty.Mark((2 << 20) - 512, 1024);
        Assert.Multiple(() =>
        {
            Assert.That(created, Is.EqualTo(2));
            Assert.That(dirty.Indices, Is.EqualTo(new[] { 0L, 1L }));
            Assert.That(dirty.Take(0)![511], Is.EqualTo(0x80), "the last granule of entry 0 is bit 7 of its last byte");
            Assert.That(dirty.Take(1)![0], Is.EqualTo(0x01), "the first granule of entry 1 is bit 0 of its first byte");
        });
    }

    [Test]
    public void Mark_64TiBDiskAtBothEnds_TwoClustersOfMemory()
    {
        // 64 TiB at 64 KiB granularity is a 128 MiB bitmap; two writes hold two 64 KiB chunks.
        var geo = new BitmapGeometry(64L << 40, 16, 65536);
        var dirty = new DirtyGranules(geo);
        dirty.Mark(0, 1);
        dirty.Mark((64L << 40) - 1, 1);
        Assert.Multiple(() =>
        {
            Assert.That(geo.ByteCount, Is.EqualTo(128L << 20));
            Assert.That(geo.TableSize, Is.EqualTo(2048));
            Assert.That(dirty.ChunkCount, Is.EqualTo(2));
            Assert.That(dirty.Indices, Is.EqualTo(new[] { 0L, 2047L }));
        });
    }

    [Test]
    public void Mark_PastTheLastGranule_Clipped()
    {
        var geo = new BitmapGeometry(1000, 9, 512);
        var dirty = new DirtyGranules(geo);
        dirty.Mark(900, 5000);
        Assert.That(dirty.Take(0)![0], Is.EqualTo(0x02), "a 1000-byte disk has 2 granules; bit 1 only");
    }

    [TestCase(12, 12)]
    [TestCase(9, 12)]
    [TestCase(16, 16)]
    [TestCase(21, 16)]
    public void DefaultGranularityBits_ClusterBits_AsQemuImg(int clusterBits, int expected) =>
        Assert.That(BitmapGeometry.DefaultGranularityBits(clusterBits), Is.EqualTo(expected));
}
