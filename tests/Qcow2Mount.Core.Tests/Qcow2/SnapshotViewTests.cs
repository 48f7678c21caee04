using System.Buffers.Binary;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>
/// An internal snapshot opened as a read-only disk (<see cref="ImageOpenOptions.Snapshot"/>): the snapshot's L1 table
/// through the engine's one mapping walker, its own virtual size, the live image's backing chain; QEMU's selection
/// rules; hostile entries refused in one line; the file never written.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class SnapshotViewTests
{
    private string _dir = "";

    [SetUp]
    public void CreateDirectory() => _dir = TempDir.Create("snapview");

    [TearDown]
    public void DeleteDirectory() => TempDir.Delete(_dir);

    public static IEnumerable<string> Kinds => SnapshotImages.Kinds;

    [TestCaseSource(nameof(Kinds))]
    public void Open_EverySnapshotByName_ReadsWhatQemuConvertWritesAtItsOwnSize(string kind)
    {
        var image = SnapshotImages.Build(_dir, kind);
        string before = Checksum.Sha256OfFile(image.Path);
        foreach (var (name, size) in image.Snapshots)
        {
            byte[] expected = SnapshotImages.QemuSnapshotRaw(image.Path, name, size);
            using var view = Qcow2Image.Open(image.Path, new ImageOpenOptions { ReadOnly = true, Snapshot = new SnapshotSelector { Name = name } });
            var actual = new byte[view.Length];
            int read = view.Read(0, actual);
            Assert.Multiple(() =>
            {
                Assert.That(view.Snapshot?.Name, Is.EqualTo(name));
                Assert.That(view.Length, Is.EqualTo(size), $"{kind} {name}: virtual size");
                Assert.That(read, Is.EqualTo(size));
                Assert.That(Checksum.FirstDifference(expected, actual), Is.EqualTo(-1), $"{kind} {name}: {Checksum.DescribeDifference(expected, actual)}");
            });
        }

        Assert.That(Checksum.Sha256OfFile(image.Path), Is.EqualTo(before), "the image file after reading its snapshots");
        Assert.That(QemuTools.Check(image.Path).ExitCode, Is.Zero);
    }

    [Test]
    public void Open_SnapshotTakenBeforeGrowingKeepLiveSize_IsQemuConvertByteForByte()
    {
        var image = SnapshotImages.Build(_dir, "resized");
        string raw = Path.Combine(_dir, "theirs.raw");
        QemuTools.QemuImg("convert", "-l", "snapshot.name=small", "-O", "raw", image.Path, raw);
        byte[] expected = File.ReadAllBytes(raw);

        using var view = Qcow2Image.Open(image.Path, new ImageOpenOptions { ReadOnly = true, Snapshot = SnapshotSelector.Parse("small") with { KeepLiveSize = true } });
        var actual = new byte[view.Length];
        view.Read(0, actual);

        Assert.That(view.Length, Is.EqualTo(3 * SnapshotImages.M), "QEMU's temporary load keeps the live size");
        Assert.That(Checksum.FirstDifference(expected, actual), Is.EqualTo(-1), Checksum.DescribeDifference(expected, actual));
    }

    /// <summary>
    /// Snapshot ID 1 is named "2" and ID 2 is named "1": a bare "1" is the ID (QEMU looks up IDs first), snapshot.name=1
    /// the name, and snapshot.id with snapshot.name must both match. Every answer is compared with qemu-img's.
    /// </summary>
    [TestCase("1", 0)]
    [TestCase("2", 1)]
    [TestCase("snapshot.name=1", 1)]
    [TestCase("snapshot.id=1", 0)]
    [TestCase("snapshot.id=2,snapshot.name=1", 1)]
    [TestCase("first", -1)]
    [TestCase("snapshot.id=1,snapshot.name=1", -1)]
    public void Open_Selector_PicksTheSnapshotQemuPicks(string param, int expectedIndex)
    {
        string path = Path.Combine(_dir, "ids.qcow2");
        QemuTools.Create(path, SnapshotImages.M);
        QemuTools.QemuIo(path, "write -P 0x01 0 64k");
        QemuTools.CreateSnapshot(path, "2");
        QemuTools.QemuIo(path, "write -P 0x02 0 64k");
        QemuTools.CreateSnapshot(path, "1");
        QemuTools.QemuIo(path, "write -P 0x03 0 64k");
        string raw = Path.Combine(_dir, "theirs.raw");
        var qemu = QemuTools.Run("qemu-img", "convert", "-l", param, "-O", "raw", path, raw);
        var options = new ImageOpenOptions { ReadOnly = true, Snapshot = SnapshotSelector.Parse(param) };

        if (expectedIndex < 0)
        {
            Assert.That(qemu.Code, Is.Not.Zero, "qemu-img finds no snapshot either");
            var e = Assert.Throws<SnapshotNotFoundException>(() => Qcow2Image.Open(path, options));
            Assert.That(e!.Message, Does.Contain("no snapshot matches").And.Not.Contain("\n"));
            return;
        }

        Assert.That(qemu.Code, Is.Zero, qemu.Stderr);
        using var view = Qcow2Image.Open(path, options);
        var actual = new byte[view.Length];
        view.Read(0, actual);
        Assert.Multiple(() =>
        {
            Assert.That(view.Snapshot?.Id, Is.EqualTo((expectedIndex + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)));
            Assert.That(actual, Is.EqualTo(File.ReadAllBytes(raw)));
        });
    }

    [Test]
    public void Open_SnapshotReadWrite_IsRefusedAndTheFileUnchanged()
    {
        var image = SnapshotImages.Build(_dir, "compressed");
        string before = Checksum.Sha256OfFile(image.Path);

        Assert.Throws<ArgumentException>(() => Qcow2Image.Open(image.Path, new ImageOpenOptions { Snapshot = SnapshotSelector.Parse("s1") }));
        using (var view = Qcow2Image.Open(image.Path, new ImageOpenOptions { ReadOnly = true, Snapshot = SnapshotSelector.Parse("s1") }))
        {
            Assert.That(view.IsReadOnly, Is.True);
            Assert.Throws<ReadOnlyImageException>(() => view.Write(0, new byte[512]));
        }

        Assert.That(Checksum.Sha256OfFile(image.Path), Is.EqualTo(before));
    }

    /// <summary>
    /// qemu-img cannot save VM state (that takes a running VM's savevm), so the entry is crafted: the snapshot of a 2 MiB
    /// disk is made to say it is a 1 MiB disk with 1 MiB of VM state (both size fields), the state being the clusters
    /// past its end in its L1 table, where QEMU keeps VM state. The view shows the disk only.
    /// </summary>
    [Test]
    public void Open_SnapshotWithVmState_ShowsOnlyTheDisk()
    {
        string path = Path.Combine(_dir, "vmstate.qcow2");
        QemuTools.Create(path, 2 * SnapshotImages.M);
        QemuTools.QemuIo(path, "write -P 0x5a 0 1M", "write -P 0xee 1M 1M");
        QemuTools.CreateSnapshot(path, "vm");
        long entry = SnapshotEntryOffset(path);
        using (var f = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            var buf = new byte[8];
            BinaryPrimitives.WriteUInt32BigEndian(buf, 1 << 20);
            RandomAccess.Write(f, buf.AsSpan(0, 4), entry + 32); // vm_state_size (32-bit)
            BinaryPrimitives.WriteUInt64BigEndian(buf, 1 << 20);
            RandomAccess.Write(f, buf, entry + 40); // extra data: vm_state_size_large
            RandomAccess.Write(f, buf, entry + 48); // extra data: disk_size
        }

        QemuTools.QemuIo(path, "write -P 0x11 0 2M");
        var info = QemuTools.QemuImg("snapshot", "-l", path).StandardOutput;
        Assert.That(info, Does.Contain("1 MiB"), "qemu-img lists the crafted VM state size");

        using var view = Qcow2Image.Open(path, new ImageOpenOptions { ReadOnly = true, Snapshot = SnapshotSelector.Parse("vm") });
        var actual = new byte[view.Length];
        view.Read(0, actual);
        Assert.Multiple(() =>
        {
            Assert.That(view.Length, Is.EqualTo(SnapshotImages.M));
            Assert.That(actual.AsSpan().ContainsAnyExcept((byte)0x5a), Is.False);
            Assert.That(actual, Is.EqualTo(SnapshotImages.QemuSnapshotRaw(path, "vm", SnapshotImages.M)));
        });
        Assert.That(QemuTools.Check(path).ExitCode, Is.Zero);
    }

    /// <summary>Hostile snapshot entries: the open of the view fails in one line naming the field, the file unchanged.</summary>
    [TestCase(0, 0x10UL, "snapshot 0 l1_table_offset", "not a cluster-aligned")]
    [TestCase(0, 0x7fff0000UL, "snapshot 0 l1_table_offset", "beyond the end of the file")]
    [TestCase(48, 1000UL, "disk size 1000", "invalid")]
    [TestCase(48, 0x8000000000000000UL, "disk size", "invalid")]
    [TestCase(48, 1UL << 60, "disk size", "invalid")]
    public void Open_HostileSnapshotEntry_FailsInOneLine(int field, ulong value, string names, string says)
    {
        string path = Path.Combine(_dir, "hostile.qcow2");
        QemuTools.Create(path, SnapshotImages.M);
        QemuTools.QemuIo(path, "write -P 0x01 0 64k");
        QemuTools.CreateSnapshot(path, "s");
        long entry = SnapshotEntryOffset(path);
        using (var f = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            var buf = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(buf, field == 0 ? value + ReadUInt64(f, entry) : value);
            RandomAccess.Write(f, buf, entry + field);
        }

        string before = Checksum.Sha256OfFile(path);
        var e = Assert.Catch<Qcow2Exception>(() => Qcow2Image.Open(path, new ImageOpenOptions { ReadOnly = true, Snapshot = SnapshotSelector.Parse("s") }));
        Assert.Multiple(() =>
        {
            Assert.That(e!.Message, Does.Contain(names).And.Contain(says).And.Not.Contain("\n"));
            Assert.That(Checksum.Sha256OfFile(path), Is.EqualTo(before));
        });
    }

    private static long SnapshotEntryOffset(string path)
    {
        using var f = File.OpenHandle(path);
        return (long)ReadUInt64(f, 64);
    }

    private static ulong ReadUInt64(Microsoft.Win32.SafeHandles.SafeFileHandle f, long offset)
    {
        var buf = new byte[8];
        RandomAccess.Read(f, buf, offset);
        return BinaryPrimitives.ReadUInt64BigEndian(buf);
    }
}
