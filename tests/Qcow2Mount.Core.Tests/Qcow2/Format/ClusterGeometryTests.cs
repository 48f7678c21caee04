using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Tests.Qcow2.Format;

/// <summary>The index arithmetic of spec §4 (guest translation), §5 (refcounts) and §7 (subclusters), one formula per case.</summary>
[TestFixture]
[Category(TestCategories.Unit)]
public sealed class ClusterGeometryTests
{
    /// <summary>Spec §4: l2_entries = cluster_size / 8 (or / 16), l2_index and l1_index from the guest cluster number.</summary>
    public static IEnumerable<TestCaseData> GuestOffsets()
    {
        foreach (int bits in new[] { 9, 16, 21 })
        {
            foreach (bool extended in new[] { false, true })
            {
                if (extended && bits < 14)
                {
                    continue;
                }

                long clusterSize = 1L << bits;
                long l2Entries = clusterSize / (extended ? 16 : 8);
                foreach (long offset in new[] { 0L, 1, clusterSize - 1, clusterSize, (l2Entries * clusterSize) + 3, (7L << 40) + 12345 })
                {
                    long guestCluster = offset / clusterSize;
                    yield return new TestCaseData(bits, extended, offset, guestCluster / l2Entries, (int)(guestCluster % l2Entries), (int)(offset % clusterSize))
                        .SetName($"GuestSplit_Bits{bits}Ext{extended}_Offset{offset}");
                }
            }
        }
    }

    [TestCaseSource(nameof(GuestOffsets))]
    public void GuestSplit_FollowsSpecFormulas(int bits, bool extended, long offset, long l1Index, int l2Index, int inCluster)
    {
        var geo = new ClusterGeometry(bits, extended, 4);
        var guest = new GuestOffset(offset);
        Assert.Multiple(() =>
        {
            Assert.That(geo.L1Index(guest), Is.EqualTo(l1Index));
            Assert.That(geo.L2Index(guest), Is.EqualTo(l2Index));
            Assert.That(geo.OffsetInCluster(guest), Is.EqualTo(inCluster));
            Assert.That(geo.ClusterStart(guest).Value, Is.EqualTo(offset - inCluster));
            Assert.That(geo.NextClusterStart(guest).Value, Is.EqualTo(offset - inCluster + geo.ClusterSize));
            Assert.That(geo.L2EntryPosition(guest), Is.EqualTo(l2Index * (extended ? 16 : 8)));
            Assert.That(geo.L2TableStart(l1Index).Value, Is.LessThanOrEqualTo(offset));
            Assert.That(geo.NextL2TableStart(guest).Value, Is.GreaterThan(offset).And.EqualTo(geo.L2TableStart(l1Index).Value + geo.BytesPerL2Table));
            Assert.That(geo.SubclusterIndex(guest), Is.EqualTo(extended ? inCluster / (geo.ClusterSize / 32) : 0));
        });
    }

    /// <summary>Spec §7: 32 subclusters per cluster with extended L2 entries, one without; the static form agrees.</summary>
    [TestCase(16, true, 2048)]
    [TestCase(21, true, 65536)]
    [TestCase(16, false, 65536)]
    [TestCase(9, false, 512)]
    public void SubclusterSize_FollowsSpecFormula(int bits, bool extended, int expected)
    {
        var geo = new ClusterGeometry(bits, extended, 4);
        Assert.Multiple(() =>
        {
            Assert.That(geo.SubclusterSize, Is.EqualTo(expected));
            Assert.That(ClusterGeometry.SubclusterSizeOf(1 << bits, extended), Is.EqualTo(expected));
        });
    }

    /// <summary>Spec §5: refblock_entries = cluster_size × 8 / refcount_bits; the table and block indexes of a host cluster.</summary>
    [TestCase(16, 0, 524288)]
    [TestCase(16, 4, 32768)]
    [TestCase(16, 6, 8192)]
    [TestCase(9, 4, 256)]
    public void RefcountIndexes_FollowSpecFormulas(int bits, int order, int refblockEntries)
    {
        var geo = new ClusterGeometry(bits, extendedL2: false, order);
        var cluster = new HostCluster((3L * refblockEntries) + 17);
        Assert.Multiple(() =>
        {
            Assert.That(geo.RefblockEntries, Is.EqualTo(refblockEntries));
            Assert.That(geo.RefcountTableIndex(cluster), Is.EqualTo(3));
            Assert.That(geo.RefblockIndex(cluster), Is.EqualTo(17));
            Assert.That(geo.FirstClusterOfRefblock(3).Index, Is.EqualTo(3L * refblockEntries));
            Assert.That(geo.RefblocksFor((3L * refblockEntries) + 1), Is.EqualTo(4));
        });
    }

    [Test]
    public void HostConversions_RoundTripBetweenOffsetsAndClusters()
    {
        var geo = new ClusterGeometry(16, extendedL2: true, 4);
        var offset = new HostOffset((5L << 16) + 100);
        Assert.Multiple(() =>
        {
            Assert.That(geo.ClusterOf(offset), Is.EqualTo(new HostCluster(5)));
            Assert.That(geo.StartOf(new HostCluster(5)), Is.EqualTo(new HostOffset(5L << 16)));
            Assert.That(geo.ClusterStart(offset), Is.EqualTo(new HostOffset(5L << 16)));
            Assert.That(geo.OffsetInCluster(offset), Is.EqualTo(100));
            Assert.That(geo.IsClusterAligned(offset), Is.False);
            Assert.That(geo.ClustersOf(offset, (1 << 16) - 100), Is.EqualTo((new HostCluster(5), new HostCluster(5))));
            Assert.That(geo.ClustersOf(offset, (1 << 16) - 99), Is.EqualTo((new HostCluster(5), new HostCluster(6))));
            Assert.That(geo.ClustersOf(offset, 0), Is.EqualTo((new HostCluster(5), new HostCluster(5))), "an empty structure still names its cluster");
            Assert.That(geo.ClusterEnd((5L << 16) + 1), Is.EqualTo(new HostCluster(6)));
            Assert.That(geo.SubclusterOf(4095), Is.EqualTo(1), "2 KiB subclusters");
            Assert.That(geo.SubclusterStart(32), Is.EqualTo(1 << 16), "subcluster 32 is the cluster's end");
        });
    }

    [Test]
    public void TypedOffsets_ArithmeticStaysInItsKind()
    {
        var guest = new GuestOffset(4096);
        var host = new HostOffset(8192);
        Assert.Multiple(() =>
        {
            Assert.That((guest + 100).Value, Is.EqualTo(4196));
            Assert.That(new GuestOffset(5000) - guest, Is.EqualTo(904));
            Assert.That(GuestOffset.Min(guest, new GuestOffset(1)), Is.EqualTo(new GuestOffset(1)));
            Assert.That((host + 8).Value, Is.EqualTo(8200));
            Assert.That(HostOffset.None.IsNone, Is.True);
            Assert.That(host.IsNone, Is.False);
            Assert.That(new HostCluster(7).Next - new HostCluster(7).Previous, Is.EqualTo(2));
            Assert.That(guest.ToString(), Is.EqualTo("0x1000"), "messages print offsets in hex, as before");
        });
    }
}
