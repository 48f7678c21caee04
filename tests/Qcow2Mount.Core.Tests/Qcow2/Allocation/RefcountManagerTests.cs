using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Qcow2.Allocation;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.Core.Tests.Qcow2.Metadata;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Qcow2.Allocation;

/// <summary>The refcount manager never writes the header: a refcount table it had to move is returned to its caller.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
public sealed class RefcountManagerTests
{
    [Test]
    public void Allocate_PastWhatTheTableDescribes_ReturnsTheMovedTableAndLeavesClusterZeroAlone()
    {
        // 512-byte clusters with 64-bit refcounts: one table cluster (64 blocks of 64 clusters) describes 2 MiB.
        using var dir = new TempDir("refcounts");
        string image = dir.File("disk.qcow2");
        QemuTools.Create(image, 8L << 20, new Dictionary<string, string> { ["cluster_size"] = "512", ["refcount_bits"] = "64" });
        using var device = new RecordingBlockDevice(FileBlockDevice.Open(image, readOnly: false));
        var header = HeaderStore.Read(device);
        var geo = header.Geometry;
        var layout = ImageLayout.Read(device, header);
        var original = new RefcountTableLocation(new HostOffset(header.RefcountTableOffset), header.RefcountTableClusters);
        var refcounts = new RefcountManager(device, geo, original, layout.RefcountTable, new MetadataCache("refcount", device, geo.ClusterSize, 1 << 20));

        RefcountTableLocation? moved = null;
        int allocations = 0;
        while (moved is null && allocations < 10_000)
        {
            moved = refcounts.Allocate(1).MovedTable;
            allocations++;
        }

        Assert.Multiple(() =>
        {
            Assert.That(moved, Is.Not.Null, $"no table move after {allocations} allocations");
            Assert.That(moved, Is.EqualTo(refcounts.Location));
            Assert.That(moved!.Value.Offset, Is.Not.EqualTo(original.Offset));
            Assert.That(device.Log, Has.None.EqualTo("write 0x0"), "the header is its caller's to write");
            Assert.That(HeaderStore.Read(device).RefcountTableOffset, Is.EqualTo(header.RefcountTableOffset));
            Assert.That(refcounts.DeferredFreeCount, Is.EqualTo(original.Clusters), "the old table is freed later");
            Assert.That(refcounts.Allocate(1).MovedTable, Is.Null, "a move is returned once");
        });
    }
}
