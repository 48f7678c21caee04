using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Tests.Tools;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>
/// The dirty bit (incompatible bit 0) and lazy refcounts (compatible bit 0), qemu-behaviour.md §9: a writer of a
/// lazy-refcounts image sets the bit before its first metadata change and clears it on a clean close; a dirty
/// image is repaired (refcounts rebuilt) before a read-write open and used as is read-only. QEMU makes the images
/// and qemu-img check is the oracle.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class DirtyBitTests
{
    private const long IncompatibleFeatures = 72;
    private const ulong Dirty = 1;

    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir("dirty");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public void Write_LazyRefcounts_DirtyBitSetBeforeMetadataChangeAndClearedOnClose()
    {
        string image = _dir.File("lazy.qcow2");
        QemuTools.Create(image, "lazy_refcounts=on,cluster_size=65536", 64 << 20);
        var data = Pattern(0x3c, 200_000);

        using (var disk = Qcow2Image.Open(image))
        {
            Assert.That(DirtyOnDisk(image), Is.False, "an open that changes nothing leaves the bit alone");
            disk.Write(3 << 20, data);
            Assert.That(DirtyOnDisk(image), Is.True, "the bit must be on disk once metadata changed");
            disk.Flush();
            Assert.That(DirtyOnDisk(image), Is.True, "a flush is not a close: the bit stays");
            string crashCopy = _dir.File("crash.qcow2");
            File.Copy(image, crashCopy);
            Assert.That(QemuTools.Json(QemuTools.Ok("qemu-img", "info", "--output=json", "-U", crashCopy))["dirty-flag"]!.GetValue<bool>(), Is.True, "QEMU sees the copy as dirty");
        }

        Assert.Multiple(() =>
        {
            Assert.That(DirtyOnDisk(image), Is.False, "a clean close clears the bit");
            Assert.That(QemuTools.CheckJson(image).Code, Is.Zero);
        });
        QemuTools.QemuIo(image, "read -P 0x3c 3M 200000");
    }

    [TestCase(64L << 20)]
    [TestCase(1L << 20)]
    public void Resize_LazyRefcounts_ClosesCleanDirtyBitClear(long newSize)
    {
        // Resize ends with the image closed for writing; it must still end like a clean close, or the next read-write
        // open rebuilds every refcount (and QEMU reports the image dirty meanwhile).
        string image = _dir.File("lazy.qcow2");
        QemuTools.Create(image, "lazy_refcounts=on,cluster_size=65536", 8 << 20);
        QemuTools.QemuIo(image, "write -P 3 0 3M", "write -P 4 6M 1M");

        using (var disk = Qcow2Image.Open(image))
        {
            disk.Resize(newSize);
        }

        ulong incompatible = ImageBytes.ReadU64(image, 72);
        bool qemuSeesDirty = QemuTools.Json(QemuTools.Ok("qemu-img", "info", "--output=json", image))["dirty-flag"]!.GetValue<bool>();
        long length = new FileInfo(image).Length;
        var log = new List<string>();
        using (Qcow2Image.Open(image, new ImageOpenOptions { Log = log.Add }))
        {
        }

        Assert.Multiple(() =>
        {
            Assert.That(incompatible & 1, Is.Zero, "dirty bit on disk");
            Assert.That(qemuSeesDirty, Is.False, "qemu-img info dirty-flag");
            Assert.That(log, Is.Empty, "no refcount rebuild on the next open");
            Assert.That(new FileInfo(image).Length, Is.EqualTo(length), "the next open leaves the file as it was");
            Assert.That(QemuTools.CheckJson(image).Code, Is.EqualTo(0));
        });
        QemuTools.QemuIo(image, "read -P 3 0 1M");
    }

    [Test]
    public void Write_WithoutLazyRefcounts_NoDirtyBitEver()
    {
        string image = _dir.File("plain.qcow2");
        QemuTools.Create(image, "lazy_refcounts=off,cluster_size=65536", 64 << 20);
        using (var disk = Qcow2Image.Open(image))
        {
            disk.Write(0, Pattern(1, 300_000));
            disk.WriteZeroes(1 << 20, 1 << 20, mayUnmap: true);
            disk.Flush();
            Assert.That(DirtyOnDisk(image), Is.False);
        }

        Assert.That(QemuTools.CheckJson(image).Code, Is.Zero);
    }

    [Test]
    public void Open_LazyCrashCopy_ReadWriteRepairsAndIsClean()
    {
        // A copy taken while the writer is open (refcounts of the newest allocations may be anywhere) is what a
        // crash leaves: the dirty bit set. The read-write open must repair it.
        string image = _dir.File("lazy.qcow2");
        string crash = _dir.File("crash.qcow2");
        QemuTools.Create(image, "lazy_refcounts=on,cluster_size=65536", 64 << 20);
        using (var disk = Qcow2Image.Open(image))
        {
            disk.Write(0, Pattern(9, 1 << 20));
            disk.Flush();
            File.Copy(image, crash);
        }

        var log = new List<string>();
        using (var disk = Qcow2Image.Open(crash, new ImageOpenOptions { Log = log.Add }))
        {
            Assert.That(log, Has.Some.Contains("repaired refcounts of dirty image"));
            disk.Write(4 << 20, Pattern(10, 70_000));
        }

        Assert.That(QemuTools.CheckJson(crash).Code, Is.Zero);
        QemuTools.QemuIo(crash, "read -P 9 0 1M", "read -P 10 4M 70000");
    }

    [TestCase("extended_l2=off")]
    [TestCase("extended_l2=on")]
    public void OpenReadWrite_DirtyImageWithBrokenRefcounts_RebuiltLoggedAndClean(string l2)
    {
        string image = _dir.File("dirty.qcow2");
        QemuTools.Create(image, $"lazy_refcounts=on,cluster_size=65536,{l2}", 64 << 20);
        QemuTools.QemuIo(image, "write -P 0x5a 0 1M", "write -P 0x6b 8M 300k");
        long dataCluster = HostClusterOfGuest(image, 8 << 20);
        long l1Cluster = (long)ImageBytes.ReadU64(image, 40) >> 16;
        SetRefcount(image, dataCluster, 0); // referenced but counted free: a corruption
        SetRefcount(image, l1Cluster, 3); // counted too high: a leak
        ImageBytes.WriteU64(image, IncompatibleFeatures, ImageBytes.ReadU64(image, IncompatibleFeatures) | Dirty);
        Assert.That(QemuTools.Run("qemu-img", "check", image).Code, Is.EqualTo(2), "precondition: the refcounts are broken");

        var log = new List<string>();
        using (var disk = Qcow2Image.Open(image, new ImageOpenOptions { Log = log.Add }))
        {
            Assert.That(log, Has.One.Contains("repaired refcounts of dirty image").And.Contains(image));
            var back = new byte[300 << 10];
            disk.Read(8 << 20, back);
            Assert.That(back, Is.All.EqualTo(0x6b));
            // The rebuilt refcounts must keep the allocator off the cluster that was counted free.
            disk.Write(20 << 20, Pattern(0x77, 2 << 20));
        }

        var check = QemuTools.CheckJson(image);
        Assert.Multiple(() =>
        {
            Assert.That(check.Code, Is.Zero, check.Result.ToJsonString());
            Assert.That(QemuTools.Long(check.Result, "leaks"), Is.Zero);
            Assert.That(DirtyOnDisk(image), Is.False);
        });
        QemuTools.QemuIo(image, "read -P 0x5a 0 1M", "read -P 0x6b 8M 300k", "read -P 0x77 20M 2M");
    }

    [Test]
    public void OpenReadOnly_DirtyImage_ReadsAsIsAndWritesNothing()
    {
        string image = _dir.File("dirty.qcow2");
        QemuTools.Create(image, "lazy_refcounts=on,cluster_size=65536", 16 << 20);
        QemuTools.QemuIo(image, "write -P 0x21 64k 128k");
        SetRefcount(image, HostClusterOfGuest(image, 64 << 10), 0);
        ImageBytes.WriteU64(image, IncompatibleFeatures, ImageBytes.ReadU64(image, IncompatibleFeatures) | Dirty);
        byte[] before = File.ReadAllBytes(image);

        var log = new List<string>();
        using (var disk = Qcow2Image.Open(image, new ImageOpenOptions { ReadOnly = true, Log = log.Add }))
        {
            var back = new byte[128 << 10];
            disk.Read(64 << 10, back);
            Assert.That(back, Is.All.EqualTo(0x21));
        }

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllBytes(image), Is.EqualTo(before), "a read-only open wrote");
            Assert.That(log, Has.None.Contains("repaired"));
        });
    }

    private static bool DirtyOnDisk(string image) => (ImageBytes.ReadU64(image, IncompatibleFeatures) & Dirty) != 0;

    private static byte[] Pattern(byte value, int length)
    {
        var data = new byte[length];
        Array.Fill(data, value);
        return data;
    }

    /// <summary>Host cluster index holding guest <paramref name="guest"/>, from qemu-img map.</summary>
    internal static long HostClusterOfGuest(string image, long guest)
    {
        var entry = QemuTools.Map(image).First(e => e.Start <= guest && guest < e.Start + e.Length);
        Assert.That(entry.Offset, Is.Not.Null, $"guest 0x{guest:x} is not allocated");
        return (entry.Offset!.Value + (guest - entry.Start)) >> 16;
    }

    /// <summary>Patches a 16-bit refcount (64 KiB clusters, first refcount block) in place.</summary>
    internal static void SetRefcount(string image, long cluster, ushort value)
    {
        long table = (long)ImageBytes.ReadU64(image, 48);
        long block = (long)ImageBytes.ReadU64(image, table);
        ImageBytes.Patch(image, block + (cluster * 2), [(byte)(value >> 8), (byte)value]);
    }
}
