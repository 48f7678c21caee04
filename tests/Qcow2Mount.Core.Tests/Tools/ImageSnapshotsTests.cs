using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Tools;

namespace Qcow2Mount.Core.Tests.Tools;

/// <summary>
/// Internal snapshots created, applied and deleted by us, checked with QEMU as the oracle: qemu-img check clean (no
/// leaks, COPIED right), qemu-img snapshot -l and convert -l agree, and QEMU applies ours and we apply QEMU's.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class ImageSnapshotsTests : ToolsTestDirectory
{
    private const long Size = 8 << 20;

    /// <summary>Layouts: standard and extended L2, small clusters (several L2 tables), v2, refcount_bits 16 and 64.</summary>
    private static readonly string[] Layouts =
    [
        "cluster_size=65536",
        "extended_l2=on,cluster_size=65536",
        "cluster_size=4096,refcount_bits=16",
        "extended_l2=on,cluster_size=16384,refcount_bits=64",
        "compat=0.10,cluster_size=65536",
    ];

    /// <summary>Plain data, a compressed cluster, a zero range, data across an L2 table boundary of 4 KiB clusters.</summary>
    private static readonly string[] FirstWrites =
    [
        "write -P 0x11 0 192k", "write -c -P 0x22 2M 64k", "write -z 1M 64k", "write -P 0x33 4092k 8k",
    ];

    /// <summary>Overwrites every range the first writes touched (COW of shared clusters and of the compressed one).</summary>
    private static readonly string[] SecondWrites =
    [
        "write -P 0x44 0 256k", "write -P 0x55 2M 4k", "write -P 0x66 1M 4k", "write -P 0x77 4090k 16k",
    ];

    [TestCaseSource(nameof(Layouts))]
    public void Create_ThenQemuAndEngineWrite_SnapshotKeepsItsDataQemuClean(string options)
    {
        string image = PathOf("x.qcow2");
        QemuTools.Create(image, options, Size);
        QemuTools.QemuIo(image, FirstWrites);
        string before = Raw(image, "before.raw");

        var created = ImageSnapshots.Create(image, "first");
        AssertClean(image);
        Assert.Multiple(() =>
        {
            Assert.That(created.Id, Is.EqualTo("1"));
            Assert.That(QemuTools.Ok("qemu-img", "snapshot", "-l", image), Does.Contain("\n1         first "));
            Assert.That(QemuTools.Compare(image, before), Is.True, "the active disk is unchanged");
            Assert.That(QemuTools.Compare(Raw(image, "s.raw", "first"), before, "raw"), Is.True, "convert -l reads the snapshot");
        });

        QemuTools.QemuIo(image, SecondWrites);
        AssertClean(image);
        using (var disk = Qcow2Image.Open(image))
        {
            disk.Write(3000, new byte[5000]);
            disk.Write((2 << 20) + 100, Enumerable.Repeat((byte)0x99, 70000).ToArray());
        }

        AssertClean(image);
        QemuTools.QemuIo(image, "read -P 0 3000 5000", "read -P 0x99 2097252 70000", "read -P 0x44 8000 100k");
        Assert.That(QemuTools.Compare(Raw(image, "s2.raw", "first"), before, "raw"), Is.True, "writes after the snapshot do not reach it");
    }

    [TestCaseSource(nameof(Layouts))]
    public void Apply_SnapshotMadeByQemu_DiskRevertsQemuClean(string options)
    {
        string image = PathOf("x.qcow2");
        QemuTools.Create(image, options, Size);
        QemuTools.QemuIo(image, FirstWrites);
        string before = Raw(image, "before.raw");
        QemuTools.CreateSnapshot(image, "q");
        QemuTools.QemuIo(image, SecondWrites);

        ImageSnapshots.Apply(image, "q");
        AssertClean(image);
        Assert.That(QemuTools.Compare(image, before), Is.True);

        // The reverted disk is the snapshot's until written: a write now must copy, not change the snapshot.
        QemuTools.QemuIo(image, SecondWrites);
        AssertClean(image);
        Assert.That(QemuTools.Compare(Raw(image, "q.raw", "q"), before, "raw"), Is.True);
    }

    [TestCaseSource(nameof(Layouts))]
    public void Create_AppliedByQemu_DiskRevertsQemuClean(string options)
    {
        string image = PathOf("x.qcow2");
        QemuTools.Create(image, options, Size);
        QemuTools.QemuIo(image, FirstWrites);
        string before = Raw(image, "before.raw");
        ImageSnapshots.Create(image, "ours");
        QemuTools.QemuIo(image, SecondWrites);

        QemuTools.Ok("qemu-img", "snapshot", "-a", "ours", image);
        AssertClean(image);
        Assert.That(QemuTools.Compare(image, before), Is.True);
    }

    [TestCaseSource(nameof(Layouts))]
    public void Delete_SnapshotsSharingData_ClustersFreedCopiedRestoredNoLeaks(string options)
    {
        string image = PathOf("x.qcow2");
        QemuTools.Create(image, options, Size);
        QemuTools.QemuIo(image, FirstWrites);
        ImageSnapshots.Create(image, "ours");
        QemuTools.CreateSnapshot(image, "theirs");
        // Only part is rewritten: the rest stays shared, and must get COPIED back once the snapshots are gone.
        QemuTools.QemuIo(image, "write -P 0x44 0 64k");
        string after = Raw(image, "after.raw");

        ImageSnapshots.Delete(image, "ours");
        AssertClean(image);
        Assert.That(QemuTools.Ok("qemu-img", "snapshot", "-l", image), Does.Not.Contain("ours").And.Contain("theirs"));
        ImageSnapshots.Delete(image, "theirs");
        // No leaks: every cluster only the snapshots named has its refcount back at 0.
        AssertClean(image);
        long end = QemuTools.Check(image).ImageEndOffset;
        Assert.Multiple(() =>
        {
            Assert.That(QemuTools.Ok("qemu-img", "snapshot", "-l", image), Is.Empty);
            Assert.That(QemuTools.Compare(image, after), Is.True);
        });

        // The freed clusters are reused: new data fits in them without growing the file. COPIED is back on the active
        // entries (refcount 1): QEMU writes them in place and check stays clean.
        QemuTools.QemuIo(image, "write -P 0x88 6M 16k", "write -P 0x99 64k 64k");
        AssertClean(image);
        Assert.That(QemuTools.Check(image).ImageEndOffset, Is.EqualTo(end));
    }

    [Test]
    public void CreateApplyDelete_WithBackingFile_ReadsThroughBackingQemuClean()
    {
        string backing = PathOf("base.qcow2");
        string image = PathOf("x.qcow2");
        QemuTools.Create(backing, "extended_l2=on", Size);
        QemuTools.QemuIo(backing, "write -P 0xbb 0 8M");
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "extended_l2=on", "-b", backing, "-F", "qcow2", image);
        QemuTools.QemuIo(image, "write -P 0x11 4k 2k", "write -z 1M 64k");
        string before = Raw(image, "before.raw");

        ImageSnapshots.Create(image, "s");
        QemuTools.QemuIo(image, "write -P 0x22 0 128k", "write -P 0x33 1M 4k");
        AssertClean(image);
        Assert.That(QemuTools.Compare(Raw(image, "s.raw", "s"), before, "raw"), Is.True);

        ImageSnapshots.Apply(image, "1");
        AssertClean(image);
        Assert.That(QemuTools.Compare(image, before), Is.True);
        ImageSnapshots.Delete(image, "s");
        AssertClean(image);
        Assert.That(QemuTools.Compare(image, before), Is.True);
    }

    [Test]
    public void Apply_SnapshotOfAnotherSize_SizeReverts()
    {
        string image = PathOf("x.qcow2");
        QemuTools.Create(image, "cluster_size=65536", Size);
        QemuTools.QemuIo(image, "write -P 0x11 0 1M");
        string before = Raw(image, "before.raw");
        ImageSnapshots.Create(image, "small");
        QemuTools.Ok("qemu-img", "resize", "-q", image, "600M");
        QemuTools.QemuIo(image, "write -P 0x22 500M 1M");

        ImageSnapshots.Apply(image, "small");
        AssertClean(image);
        Assert.Multiple(() =>
        {
            Assert.That(QemuTools.Info(image).GetProperty("virtual-size").GetInt64(), Is.EqualTo(Size));
            Assert.That(QemuTools.Compare(image, before), Is.True);
        });
    }

    [Test]
    public void Create_RefcountBits1WithData_RefusedImageUnchanged()
    {
        // QEMU fails half way ("-22 (Invalid argument)") and leaks the L1 copy; we refuse before changing anything.
        string image = PathOf("x.qcow2");
        QemuTools.Create(image, "refcount_bits=1", Size);
        QemuTools.QemuIo(image, "write -P 1 0 64k");
        byte[] bytes = File.ReadAllBytes(image);

        var e = Assert.Throws<UnsupportedFeatureException>(() => ImageSnapshots.Create(image, "s"));
        Assert.Multiple(() =>
        {
            Assert.That(e!.Message, Does.Contain("would exceed 1 (refcount_bits=1)"));
            Assert.That(File.ReadAllBytes(image), Is.EqualTo(bytes));
        });
    }

    [Test]
    public void Create_RefcountBits1EmptyDisk_CreatedAsQemuDoes()
    {
        string image = PathOf("x.qcow2");
        QemuTools.Create(image, "refcount_bits=1", Size);
        ImageSnapshots.Create(image, "s");
        AssertClean(image);
        Assert.That(QemuTools.Ok("qemu-img", "snapshot", "-l", image), Does.Contain(" s "));
    }

    [Test]
    public void ApplyAndDelete_UnknownName_NotFoundImageUnchanged()
    {
        string image = PathOf("x.qcow2");
        QemuTools.Create(image, "cluster_size=65536", Size);
        QemuTools.CreateSnapshot(image, "s");
        byte[] bytes = File.ReadAllBytes(image);

        Assert.Multiple(() =>
        {
            Assert.Throws<SnapshotNotFoundException>(() => ImageSnapshots.Apply(image, "t"));
            // -d matches names only: ID "1" is not a name.
            Assert.Throws<SnapshotNotFoundException>(() => ImageSnapshots.Delete(image, "1"));
            Assert.That(File.ReadAllBytes(image), Is.EqualTo(bytes));
        });
    }

    [Test]
    public void Create_ImageHeldByQemuIo_LockedImageUnchanged()
    {
        string image = PathOf("x.qcow2");
        QemuTools.Create(image, "cluster_size=65536", Size);
        byte[] bytes = File.ReadAllBytes(image);
        using (new QemuIoHolder(image, "qcow2"))
        {
            Assert.Throws<ImageLockedException>(() => ImageSnapshots.Create(image, "s"));
        }

        Assert.That(File.ReadAllBytes(image), Is.EqualTo(bytes));
    }

    [Test]
    public void Create_NextIdAfterQemuSnapshots_OneMoreThanLargest()
    {
        string image = PathOf("x.qcow2");
        QemuTools.Create(image, "cluster_size=65536", Size);
        QemuTools.CreateSnapshot(image, "a");
        QemuTools.CreateSnapshot(image, "b");
        QemuTools.Ok("qemu-img", "snapshot", "-d", "a", image);

        var created = ImageSnapshots.Create(image, "c");
        Assert.That(created.Id, Is.EqualTo("3"));
        QemuTools.CreateSnapshot(image, "d");
        Assert.That(QemuTools.Ok("qemu-img", "snapshot", "-l", image), Does.Contain("\n4         d "));
    }

    private static void AssertClean(string image)
    {
        var check = QemuTools.Check(image);
        Assert.That(check.IsClean, Is.True, check.ToString());
    }

    private string Raw(string image, string name, string? snapshot = null)
    {
        string raw = PathOf(name);
        QemuTools.ConvertToRaw(image, raw, snapshotName: snapshot);
        return raw;
    }
}
