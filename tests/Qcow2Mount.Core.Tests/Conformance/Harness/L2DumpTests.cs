using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Conformance.Harness;

/// <summary>
/// The oracle reader itself, against images QEMU wrote with bitmaps the format/behaviour notes record
/// (qemu-behaviour.md §3.2, §4, §5 "verified: img" values).
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
public sealed class L2DumpTests
{
    private static readonly Dictionary<string, string> ExtendedL2 = new() { ["extended_l2"] = "on", ["cluster_size"] = "65536" };

    [Test]
    public void Load_OneKibWriteAtZero_AllocatesSubclusterZeroOnly()
    {
        using var dir = new TempDir();
        string image = dir.File("a.qcow2");
        QemuTools.Create(image, 4 << 20, ExtendedL2);
        QemuTools.QemuIo(image, "write -P 0xaa 0 1k");

        L2Dump dump = L2Dump.Load(image);
        L2Slot slot = dump.SlotOrEmpty(0);

        Assert.Multiple(() =>
        {
            Assert.That(dump.ExtendedL2, Is.True);
            Assert.That(dump.ClusterBits, Is.EqualTo(16));
            Assert.That(dump.SubclusterSize, Is.EqualTo(2048));
            Assert.That(dump.ClusterCount, Is.EqualTo(64));
            Assert.That(slot.AllocationBits, Is.EqualTo(0x1u));
            Assert.That(slot.ZeroBits, Is.Zero);
            Assert.That(slot.IsCopied, Is.True);
            Assert.That(slot.HostOffset, Is.GreaterThan(0), "a data cluster");
            Assert.That(slot.HostOffset % dump.ClusterSize, Is.Zero);
            Assert.That(dump.SlotOrEmpty(1), Is.EqualTo(default(L2Slot)));
        });
    }

    [Test]
    public void Load_WriteAcrossThreeClusters_MiddleClusterFullyAllocated()
    {
        using var dir = new TempDir();
        string image = dir.File("a.qcow2");
        QemuTools.Create(image, 4 << 20, ExtendedL2);
        // From subcluster 30 of cluster 0 to subcluster 2 of cluster 2 (behaviour notes §3.2: 0xC0000000 / 0xFFFFFFFF / 0x7).
        QemuTools.QemuIo(image, $"write -P 0x11 {30 * 2048} {(2 * 65536) + 5000 - (30 * 2048)}");

        L2Dump dump = L2Dump.Load(image);

        Assert.Multiple(() =>
        {
            Assert.That(dump.SlotOrEmpty(0).AllocationBits, Is.EqualTo(0xC000_0000u));
            Assert.That(dump.SlotOrEmpty(1).AllocationBits, Is.EqualTo(0xFFFF_FFFFu));
            Assert.That(dump.SlotOrEmpty(2).AllocationBits, Is.EqualTo(0x7u));
            Assert.That(dump.NonEmptySlots().Select(s => s.GuestCluster), Is.EqualTo(new long[] { 0, 1, 2 }));
        });
    }

    [Test]
    public void Load_ZeroWriteUnalignedOnFreshImage_SetsZeroBitsOfWholeSubclusters()
    {
        using var dir = new TempDir();
        string image = dir.File("a.qcow2");
        QemuTools.Create(image, 4 << 20, ExtendedL2);
        QemuTools.QemuIo(image, "write -z 66560 5000"); // behaviour notes §4 log: fresh, no backing → z=0x7, entry 0

        L2Slot slot = L2Dump.Load(image).SlotOrEmpty(1);

        Assert.Multiple(() =>
        {
            Assert.That(slot.Entry, Is.Zero);
            Assert.That(slot.AllocationBits, Is.Zero);
            Assert.That(slot.ZeroBits, Is.EqualTo(0x7u));
        });
    }

    [Test]
    public void Load_ZeroWriteOfAllocatedCluster_KeepsHostAndSetsAllZeroBits()
    {
        using var dir = new TempDir();
        string image = dir.File("a.qcow2");
        QemuTools.Create(image, 4 << 20, ExtendedL2);
        QemuTools.QemuIo(image, "write -P 0x22 64k 64k");
        long host = L2Dump.Load(image).SlotOrEmpty(1).HostOffset;
        QemuTools.QemuIo(image, "write -z 64k 64k");

        L2Slot slot = L2Dump.Load(image).SlotOrEmpty(1);

        Assert.Multiple(() =>
        {
            Assert.That(host, Is.Not.Zero);
            Assert.That(slot.HostOffset, Is.EqualTo(host));
            Assert.That(slot.Bitmap, Is.EqualTo(0xFFFF_FFFF_0000_0000UL));
        });
    }

    [Test]
    public void Load_StandardL2ZeroWriteOfWholeCluster_SetsZeroFlagOnly()
    {
        using var dir = new TempDir();
        string image = dir.File("a.qcow2");
        QemuTools.Create(image, 4 << 20);
        QemuTools.QemuIo(image, "write -z 128k 64k");

        L2Dump dump = L2Dump.Load(image);
        L2Slot slot = dump.SlotOrEmpty(2);

        Assert.Multiple(() =>
        {
            Assert.That(dump.ExtendedL2, Is.False);
            Assert.That(dump.SubclusterSize, Is.EqualTo(dump.ClusterSize));
            Assert.That(slot.Entry, Is.EqualTo(0x1UL));
            Assert.That(slot.ZeroFlag, Is.True);
            Assert.That(slot.IsAllocated, Is.False);
            Assert.That(slot.Bitmap, Is.Zero);
        });
    }

    [Test]
    public void Load_CompressedWrite_IsCompressedWithEmptyBitmapAndNoCopiedFlag()
    {
        using var dir = new TempDir();
        string image = dir.File("a.qcow2");
        QemuTools.Create(image, 4 << 20, ExtendedL2);
        QemuTools.QemuIo(image, "write -c -P 0x33 0 64k");

        L2Slot slot = L2Dump.Load(image).SlotOrEmpty(0);

        Assert.Multiple(() =>
        {
            Assert.That(slot.IsCompressed, Is.True);
            Assert.That(slot.IsAllocated, Is.True);
            Assert.That(slot.IsCopied, Is.False);
            Assert.That(slot.HostOffset, Is.Zero);
            Assert.That(slot.Bitmap, Is.Zero);
        });
    }

    [Test]
    public void Load_RangeWithoutL2Table_ReturnsNull()
    {
        using var dir = new TempDir();
        string image = dir.File("a.qcow2");
        QemuTools.Create(image, 1L << 30, ExtendedL2); // one L2 table maps 4096 × 64 KiB = 256 MiB
        QemuTools.QemuIo(image, "write -P 0x44 0 4k");

        L2Dump dump = L2Dump.Load(image);

        Assert.Multiple(() =>
        {
            Assert.That(dump.L2Entries, Is.EqualTo(4096));
            Assert.That(dump[0], Is.Not.Null);
            Assert.That(dump[4095], Is.EqualTo((L2Slot?)default(L2Slot)));
            Assert.That(dump[4096], Is.Null);
            Assert.That(dump[dump.ClusterCount - 1], Is.Null);
            Assert.That(() => dump[dump.ClusterCount], Throws.InstanceOf<ArgumentOutOfRangeException>());
        });
    }

    [Test]
    public void Load_Version2Image_ReadsStandardEntries()
    {
        using var dir = new TempDir();
        string image = dir.File("a.qcow2");
        QemuTools.Create(image, 4 << 20, new Dictionary<string, string> { ["compat"] = "0.10", ["cluster_size"] = "16384" });
        QemuTools.QemuIo(image, "write -P 0x55 16k 16k");

        L2Dump dump = L2Dump.Load(image);

        Assert.Multiple(() =>
        {
            Assert.That(dump.Version, Is.EqualTo(2));
            Assert.That(dump.ClusterSize, Is.EqualTo(16384));
            Assert.That(dump.SlotOrEmpty(0).IsAllocated, Is.False);
            Assert.That(dump.SlotOrEmpty(1).IsAllocated, Is.True);
            Assert.That(dump.SlotOrEmpty(1).IsCopied, Is.True);
        });
    }

    [Test]
    public void Load_NotAQcow2File_Throws()
    {
        using var dir = new TempDir();
        string raw = dir.File("a.raw");
        File.WriteAllBytes(raw, new byte[4096]);

        Assert.That(() => L2Dump.Load(raw), Throws.InstanceOf<InvalidDataException>());
    }
}
