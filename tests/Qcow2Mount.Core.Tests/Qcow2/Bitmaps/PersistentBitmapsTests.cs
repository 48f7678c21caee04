using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Qcow2.Bitmaps;

/// <summary>
/// The engine's bitmap maintenance against QEMU's reader (qemu-nbd -B): writes, zero writes and discards through
/// <see cref="Qcow2Image"/> are what QEMU calls dirty after a clean close; memory stays within the budget because
/// dirty chunks are stored early; a whole-disk discard on a 64 TiB disk stays bounded too.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class PersistentBitmapsTests
{
    [Test]
    public void ScatteredWrites_BudgetOfTwoChunks_MemoryBoundedAndQemuSeesEveryWrite()
    {
        using var dir = new TempDir("bitmap-spill");
        string image = dir.File("x.qcow2");
        QemuTools.Create(image, 8L << 30);
        QemuTools.Ok("qemu-img", "bitmap", "--add", "-g", "512", image, "b");
        var writes = new List<(long Offset, long Length)>();
        var peaks = new List<long>();
        using (var disk = Qcow2Image.Open(image, new ImageOpenOptions()))
        {
            var bitmaps = disk.Bitmaps!;
            long chunk = disk.Geometry.ClusterSize;
            bitmaps.Budget = 2 * chunk;
            for (int i = 0; i < 24; i++)
            {
                // 64 KiB clusters hold 512 Ki bits: at 512 bytes a chunk covers 256 MiB; these land in 24 chunks.
                long offset = (i * 300L << 20) + (i * 4096);
                disk.Write(offset, new byte[1000 + i]);
                writes.Add((offset, 1000 + i));
                if (i % 3 == 1)
                {
                    disk.WriteZeroes(offset + (128 << 20), 70000, mayUnmap: false);
                    writes.Add((offset + (128 << 20), 70000));
                }

                peaks.Add(bitmaps.DirtyBytes);
            }

            disk.Write(writes[3].Offset + 1, new byte[10]); // a chunk stored early, dirtied again: merged with what is on disk
        }

        Assert.Multiple(() =>
        {
            Assert.That(peaks.Max(), Is.LessThanOrEqualTo(2 * 65536));
            Assert.That(QemuDirtyBitmap.DirtyRanges(image, "b"), Is.EqualTo(QemuDirtyBitmap.Expected(writes, 512, 8L << 30)));
            Assert.That(QemuTools.Check(image).IsClean, Is.True, QemuTools.Check(image).ToString());
        });
    }

    [Test]
    public void Discard64GiB_512ByteGranularity_MemoryBoundedAndStoredAsAllOnesEntries()
    {
        // 1 TiB at 512 bytes is a 256 MiB bitmap; the discard covers 256 chunks (16 MiB) but holds at most budget + one span.
        using var dir = new TempDir("bitmap-1t");
        string image = dir.File("x.qcow2");
        QemuTools.Create(image, 1L << 40);
        QemuTools.Ok("qemu-img", "bitmap", "--add", "-g", "512", image, "b");
        long peak = 0;
        using (var disk = Qcow2Image.Open(image, new ImageOpenOptions()))
        {
            var bitmaps = disk.Bitmaps!;
            bitmaps.Budget = 1 << 20;
            disk.Discard(0, 64L << 30);
            peak = bitmaps.DirtyBytes;
        }

        Assert.Multiple(() =>
        {
            Assert.That(peak, Is.LessThanOrEqualTo((1 << 20) + (16 * 65536)));
            Assert.That(QemuDirtyBitmap.DirtyRanges(image, "b"), Is.EqualTo(new[] { (0L, 64L << 30) }));
            Assert.That(QemuTools.Check(image).IsClean, Is.True, QemuTools.Check(image).ToString());
            Assert.That(new FileInfo(image).Length, Is.LessThan(12L << 20), "all-ones table entries: no 16 MiB of bitmap data (8 MiB are the L2 tables the discard allocates)");
        });
    }

    [Test]
    public void Close_StoringBitmapsFails_GuestDataStillFlushedAndFailureReported()
    {
        // A full disk while the bitmaps are stored at close: the guest's writes (dirty L2 tables in the cache) must
        // still reach the file, the bitmap stays in_use as after a crash, and the close reports the failure.
        using var dir = new TempDir("bitmap-store-fails");
        string image = dir.File("x.qcow2");
        QemuTools.Create(image, 64L << 20);
        QemuTools.Ok("qemu-img", "bitmap", "--add", image, "b");
        var file = new GatedBlockDevice(FileBlockDevice.Open(image, readOnly: false));
        var disk = Qcow2Image.Open(file, new ImageOpenOptions());
        var data = new byte[65536];
        Array.Fill(data, (byte)0x5a);
        disk.Write(1 << 20, data);
        disk.Write(40 << 20, data);
        bool armed = true;
        file.BeforeWrite = (_, _) =>
        {
            if (armed)
            {
                armed = false;
                throw new IOException("No space left on device");
            }
        };

        Assert.Throws<IOException>(disk.Dispose);
        Assert.Multiple(() =>
        {
            Assert.That(QemuTools.ReadGuest(image, 1 << 20, 65536), Is.EqualTo(data), "the first write reads back in QEMU");
            Assert.That(QemuTools.ReadGuest(image, 40 << 20, 65536), Is.EqualTo(data), "the second write reads back in QEMU");
            Assert.That(QemuTools.Check(image).Corruptions, Is.Zero, QemuTools.Check(image).ToString());
        });
    }
}
