using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Tests.Tools;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>
/// Corruption met while writing (qemu-behaviour.md §9): the corrupt bit goes to disk, the write fails, the image
/// is read-only from then on (later writes: <see cref="ReadOnlyImageException"/>), healthy ranges still read, and
/// the next read-write open is refused. Images are made by qemu-io and broken by patching bytes.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class CorruptBitTests
{
    private const long IncompatibleFeatures = 72;
    private const ulong Corrupt = 2;
    private const ulong Copied = 1UL << 63;

    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir("corrupt");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    public enum Breakage
    {
        /// <summary>The L2 entry of guest cluster 0 names the L1 table as its data cluster.</summary>
        L2EntryIntoL1Table,

        /// <summary>The L2 entry of guest cluster 0 names the refcount table.</summary>
        L2EntryIntoRefcountTable,

        /// <summary>The L2 table's own refcount is 0: the allocator would hand it out for data.</summary>
        L2TableRefcountZero,

        /// <summary>An in-use data cluster has refcount 0: the discard's decrement would go below zero.</summary>
        DataRefcountZeroThenDiscard,
    }

    [TestCase(Breakage.L2EntryIntoL1Table)]
    [TestCase(Breakage.L2EntryIntoRefcountTable)]
    [TestCase(Breakage.L2TableRefcountZero)]
    [TestCase(Breakage.DataRefcountZeroThenDiscard)]
    public void Change_MetadataInconsistency_SetsCorruptBitAndTurnsReadOnly(Breakage breakage)
    {
        string image = _dir.File("broken.qcow2");
        QemuTools.Create(image, "cluster_size=65536", 32 << 20);
        QemuTools.QemuIo(image, "write -P 0x11 0 64k", "write -P 0x22 4M 64k");
        long l1 = (long)ImageBytes.ReadU64(image, 40);
        long l2 = (long)(ImageBytes.ReadU64(image, l1) & 0x00FF_FFFF_FFFF_FE00UL);
        switch (breakage)
        {
            case Breakage.L2EntryIntoL1Table:
                ImageBytes.WriteU64(image, l2, (ulong)l1 | Copied);
                break;
            case Breakage.L2EntryIntoRefcountTable:
                ImageBytes.WriteU64(image, l2, ImageBytes.ReadU64(image, 48) | Copied);
                break;
            case Breakage.L2TableRefcountZero:
                DirtyBitTests.SetRefcount(image, l2 >> 16, 0);
                break;
            case Breakage.DataRefcountZeroThenDiscard:
                DirtyBitTests.SetRefcount(image, DirtyBitTests.HostClusterOfGuest(image, 0), 0);
                break;
        }

        using (var disk = Qcow2Image.Open(image))
        {
            Assert.That(CorruptOnDisk(image), Is.False, "precondition: opening a sound header marks nothing");
            Assert.Throws<ImageCorruptException>(() => Change(disk, breakage));
            Assert.Multiple(() =>
            {
                Assert.That(CorruptOnDisk(image), Is.True, "the corrupt bit must be on disk at once");
                Assert.That(disk.IsReadOnly, Is.True);
                Assert.Throws<ReadOnlyImageException>(() => disk.Write(8 << 20, new byte[4096]));
                Assert.Throws<ReadOnlyImageException>(() => disk.WriteZeroes(4 << 20, 65536, mayUnmap: false));
                var back = new byte[65536];
                disk.Read(4 << 20, back);
                Assert.That(back, Is.All.EqualTo(0x22), "a healthy range still reads");
            });
        }

        var info = QemuTools.Json(QemuTools.Ok("qemu-img", "info", "--output=json", image));
        Assert.That(info["format-specific"]!["data"]!["corrupt"]!.GetValue<bool>(), Is.True, "QEMU sees the corrupt bit");
        var again = Assert.Catch(() => Qcow2Image.Open(image).Dispose());
        Assert.That(again, Is.InstanceOf<ImageFormatException>().With.Message.Contains("marked corrupt"));
        using var readOnly = Qcow2Image.Open(image, new ImageOpenOptions { ReadOnly = true });
        var data = new byte[65536];
        readOnly.Read(4 << 20, data);
        Assert.That(data, Is.All.EqualTo(0x22));
    }

    private static void Change(Qcow2Image disk, Breakage breakage)
    {
        switch (breakage)
        {
            case Breakage.L2EntryIntoL1Table:
            case Breakage.L2EntryIntoRefcountTable:
                disk.Write(512, new byte[512]);
                break;
            case Breakage.L2TableRefcountZero:
                disk.Write(12 << 20, new byte[4096]); // a new cluster: the first free one is the L2 table
                break;
            case Breakage.DataRefcountZeroThenDiscard:
                disk.Discard(0, 65536);
                disk.Flush(); // decrements are applied once the L2 change is stable
                break;
        }
    }

    private static bool CorruptOnDisk(string image) => (ImageBytes.ReadU64(image, IncompatibleFeatures) & Corrupt) != 0;
}
