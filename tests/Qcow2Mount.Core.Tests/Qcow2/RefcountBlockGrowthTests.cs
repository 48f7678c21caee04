using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>
/// Writes that grow the image into the range of a new refcount block do not sync the file: the block waits in the
/// cache and its refcount table entry is written after the blocks are stable, at the next write-back. (A sync per
/// new block made one guest write wait 4 s behind 2 GiB of dirty data.) Every state the file passes through stays
/// consistent, and the closed image checks clean.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
public sealed class RefcountBlockGrowthTests
{
    [TestCase(16, TestName = "Write_ThroughNewRefcountBlocks_NoSyncUntilFlush_Refcount16")]
    [TestCase(4, TestName = "Write_ThroughNewRefcountBlocks_NoSyncUntilFlush_Refcount4")]
    public void Write_ThroughNewRefcountBlocks_NoSyncUntilFlush(int refcountBits)
    {
        using var dir = new TempDir("refblock");
        string image = dir.File("disk.qcow2");
        // 512-byte clusters: a refcount block describes 4096 / refcount_bits clusters (128 KiB or 512 KiB of file),
        // so 3 MiB of data crosses many of them while the first refcount table (64 entries) still covers the file.
        const int size = 3 << 20, l2Range = 64 * 512;
        QemuTools.Create(image, 8L << 20, new Dictionary<string, string>
        {
            ["cluster_size"] = "512", ["refcount_bits"] = refcountBits.ToString(), ["extended_l2"] = "off",
        });
        var data = new byte[size];
        new Random(refcountBits).NextBytes(data);

        var file = new CountingBlockDevice(FileBlockDevice.Open(image, readOnly: false));
        int syncsWhileWriting;
        long blocksBefore;
        using (var disk = Qcow2Image.Open(file, new ImageOpenOptions()))
        {
            // Every L2 table first (allocating one syncs by design), written back.
            for (int offset = 0; offset < size; offset += l2Range)
            {
                disk.Write(offset, data.AsSpan(offset, 512));
            }

            disk.Flush();
            blocksBefore = RefcountBlocks(image);
            int syncsBefore = file.Flushes;
            for (int offset = 0; offset < size; offset += 64 << 10)
            {
                disk.Write(offset, data.AsSpan(offset, 64 << 10));
            }

            syncsWhileWriting = file.Flushes - syncsBefore;

            // What the file holds before any write-back (a crash now): nothing on disk refers to the new blocks yet.
            File.Copy(image, dir.File("crash.qcow2"));
        }

        var crash = QemuTools.Check(dir.File("crash.qcow2"));
        var check = QemuTools.Check(image);
        string raw = dir.File("disk.raw");
        QemuTools.ConvertToRaw(image, raw);
        Assert.Multiple(() =>
        {
            Assert.That(RefcountBlocks(image), Is.GreaterThan(blocksBefore + 3), "the writes needed new refcount blocks");
            Assert.That(syncsWhileWriting, Is.Zero, "no sync while writing");
            Assert.That(crash.Corruptions, Is.Zero, crash.ToString());
            Assert.That(crash.CheckErrors, Is.Zero, crash.ToString());
            Assert.That(check.IsClean, Is.True, check.ToString());
            Assert.That(File.ReadAllBytes(raw).AsSpan(0, size).SequenceEqual(data), Is.True, "qemu-img convert reads the data back");
        });
    }

    /// <summary>Refcount blocks in use, from the image's refcount table (non-zero entries).</summary>
    private static long RefcountBlocks(string image)
    {
        using var file = FileBlockDevice.Open(image, readOnly: true);
        var header = Core.Qcow2.Metadata.HeaderStore.Read(file);
        var table = new byte[header.RefcountTableClusters << header.ClusterBits];
        file.Read(header.RefcountTableOffset, table);
        long count = 0;
        for (int i = 0; i < table.Length; i += 8)
        {
            count += System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(table.AsSpan(i)) != 0 ? 1 : 0;
        }

        return count;
    }
}
