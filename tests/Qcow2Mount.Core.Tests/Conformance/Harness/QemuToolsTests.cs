using System.Buffers.Binary;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Conformance.Harness;

/// <summary>The QEMU wrappers: exit-code handling and JSON parsing the oracle tests rely on.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
public sealed class QemuToolsTests
{
    [Test]
    public void Check_FreshImage_IsClean()
    {
        using var dir = new TempDir();
        string image = dir.File("a.qcow2");
        QemuTools.Create(image, 4 << 20);
        QemuTools.QemuIo(image, "write -P 0xaa 0 64k");

        QemuCheckResult check = QemuTools.Check(image);

        Assert.Multiple(() =>
        {
            Assert.That(check.IsClean, Is.True, check.ToString());
            Assert.That(check.ImageEndOffset, Is.GreaterThan(0));
        });
    }

    [Test]
    public void Check_RefcountOfFreeClusterRaised_ReportsOneLeak()
    {
        using var dir = new TempDir();
        string image = dir.File("a.qcow2");
        QemuTools.Create(image, 4 << 20); // 64 KiB clusters, 16-bit refcounts, first refcount block at cluster 2
        // Data lands in clusters 5 and 6 (L2 table in 4); the discard frees 6, which stays inside the file.
        QemuTools.QemuIo(image, "write 0 64k", "write 64k 64k", "discard 64k 64k");
        SetRefcount16(image, refblock: 0x20000, cluster: 6, value: 1);

        QemuCheckResult check = QemuTools.Check(image);

        Assert.Multiple(() =>
        {
            Assert.That(check.ExitCode, Is.EqualTo(3));
            Assert.That(check.Leaks, Is.EqualTo(1));
            Assert.That(check.Corruptions, Is.Zero);
            Assert.That(check.IsClean, Is.False);
        });
    }

    [Test]
    public void Check_RefcountOfL1TableZeroed_ReportsCorruption()
    {
        using var dir = new TempDir();
        string image = dir.File("a.qcow2");
        QemuTools.Create(image, 4 << 20);
        SetRefcount16(image, refblock: 0x20000, cluster: 3, value: 0); // cluster 3 holds the L1 table

        QemuCheckResult check = QemuTools.Check(image);

        Assert.Multiple(() =>
        {
            Assert.That(check.ExitCode, Is.EqualTo(2));
            Assert.That(check.Corruptions, Is.GreaterThanOrEqualTo(1));
            Assert.That(check.IsClean, Is.False);
        });
    }

    [Test]
    public void Compare_IdenticalAndDifferentContent_ReturnsTrueThenFalse()
    {
        using var dir = new TempDir();
        string image = dir.File("a.qcow2");
        string raw = dir.File("a.raw");
        QemuTools.Create(image, 1 << 20);
        QemuTools.QemuIo(image, "write -P 0x5a 4096 1000");
        QemuTools.ConvertToRaw(image, raw);
        bool before = QemuTools.Compare(image, raw);
        QemuTools.QemuIo(image, "write -P 0x5b 8191 1");

        Assert.Multiple(() =>
        {
            Assert.That(before, Is.True);
            Assert.That(QemuTools.Compare(image, raw), Is.False);
            Assert.That(QemuTools.CompareResult(image, raw).StandardOutput, Does.Contain("7680"), "qemu-img reports the 512-byte sector");
        });
    }

    [Test]
    public void QemuIo_FailingCommand_ThrowsWithCommandLine()
    {
        using var dir = new TempDir();
        string image = dir.File("a.qcow2");
        QemuTools.Create(image, 1 << 20);

        Assert.That(
            () => QemuTools.QemuIo(image, "write -P 0xaa 0 2M"),
            Throws.TypeOf<ExternalCommandException>().With.Message.Contains("qemu-io").And.Message.Contains("write -P 0xaa 0 2M"));
    }

    [Test]
    public void Create_InvalidOption_ThrowsWithStderr()
    {
        using var dir = new TempDir();

        Assert.That(
            () => QemuTools.Create(dir.File("a.qcow2"), 1 << 20, new Dictionary<string, string> { ["cluster_size"] = "4M" }),
            Throws.TypeOf<ExternalCommandException>().With.Message.Contains("qemu-img create").And.Message.Contains("luster size"));
    }

    [Test]
    public void Map_TwoWritesFarApart_ListsDataRunsInOrder()
    {
        using var dir = new TempDir();
        string image = dir.File("a.qcow2");
        QemuTools.Create(image, 1L << 40);
        QemuTools.QemuIo(image, "write -P 1 0 64k", "write -P 2 512G 64k");

        IReadOnlyList<QemuMapEntry> map = QemuTools.Map(image);

        Assert.Multiple(() =>
        {
            Assert.That(map.Where(e => e.Data).Select(e => (e.Start, e.Length)), Is.EqualTo(new[] { (0L, 65536L), (1L << 39, 65536L) }));
            Assert.That(map[^1].End, Is.EqualTo(1L << 40));
            Assert.That(map.Zip(map.Skip(1)).All(p => p.First.End == p.Second.Start), Is.True, "runs are contiguous");
        });
    }

    [Test]
    public void Info_Qcow2Image_ReportsFormatSpecificFields()
    {
        using var dir = new TempDir();
        string image = dir.File("a.qcow2");
        QemuTools.Create(image, 1 << 20, new Dictionary<string, string> { ["extended_l2"] = "on", ["refcount_bits"] = "64" });

        var info = QemuTools.Info(image);
        var data = info.GetProperty("format-specific").GetProperty("data");

        Assert.Multiple(() =>
        {
            Assert.That(info.GetProperty("virtual-size").GetInt64(), Is.EqualTo(1 << 20));
            Assert.That(data.GetProperty("extended-l2").GetBoolean(), Is.True);
            Assert.That(data.GetProperty("refcount-bits").GetInt32(), Is.EqualTo(64));
        });
    }

    [Test]
    public void ConvertToRaw_Snapshot_ReadsTheSnapshotNotTheCurrentState()
    {
        using var dir = new TempDir();
        string image = dir.File("a.qcow2");
        QemuTools.Create(image, 1 << 20);
        QemuTools.QemuIo(image, "write -P 0x11 0 64k");
        QemuTools.CreateSnapshot(image, "s,1");
        QemuTools.QemuIo(image, "write -P 0x22 0 64k");

        QemuTools.ConvertToRaw(image, dir.File("snap.raw"), snapshotName: "s,1");
        QemuTools.ConvertToRaw(image, dir.File("now.raw"));

        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllBytes(dir.File("snap.raw"))[..65536], Is.All.EqualTo((byte)0x11));
            Assert.That(File.ReadAllBytes(dir.File("now.raw"))[..65536], Is.All.EqualTo((byte)0x22));
        });
    }

    [Test]
    public void Require_ToolsOfTheMapPresent_DoesNotThrow()
    {
        Assert.That(() => RequiredTools.Require("qemu-img", "qemu-io", "qemu-nbd", "qemu-storage-daemon"), Throws.Nothing);
    }

    [Test]
    public void Require_MissingTool_NamesItsPackageAndBuildScriptDeps()
    {
        Assert.That(
            () => RequiredTools.Require("qemu-img", "/nonexistent/losetup-" + Guid.NewGuid().ToString("N")),
            Throws.TypeOf<ExternalCommandException>().With.Message.Contains("is not installed").And.Message.Contains("build.ps1 deps"));
        Assert.That(RequiredTools.MissingMessage("losetup"), Does.Contain("Debian package mount").And.Contain("build.ps1 deps"));
    }

    private static void SetRefcount16(string image, long refblock, int cluster, ushort value)
    {
        using var file = new FileStream(image, FileMode.Open, FileAccess.ReadWrite);
        Span<byte> bytes = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, value);
        RandomAccess.Write(file.SafeFileHandle, bytes, refblock + (cluster * 2));
    }
}
