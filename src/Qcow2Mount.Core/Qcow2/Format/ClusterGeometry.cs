namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>
/// The index arithmetic of one image (spec §4 guest translation, §5 refcounts, §7 subclusters), in one place.
/// Immutable; every split of a <see cref="GuestOffset"/> into L1, L2 and subcluster indexes and every conversion
/// between <see cref="HostOffset"/> and <see cref="HostCluster"/> (and into refcount table/block indexes) goes
/// through here, so no other file shifts by cluster_bits or divides by an entry count.
/// </summary>
public sealed class ClusterGeometry
{
    public ClusterGeometry(int clusterBits, bool extendedL2, int refcountOrder)
    {
        ClusterBits = clusterBits;
        ExtendedL2 = extendedL2;
        RefcountOrder = refcountOrder;
        ClusterSize = 1 << clusterBits;
        L2EntrySize = extendedL2 ? 16 : 8;
        L2Entries = ClusterSize / L2EntrySize;
        SubclustersPerCluster = extendedL2 ? 32 : 1;
        SubclusterSize = SubclusterSizeOf(ClusterSize, extendedL2);
        RefcountBits = 1 << refcountOrder;
        RefblockEntries = (int)((long)ClusterSize * 8 / RefcountBits);
    }

    public int ClusterBits { get; }

    public int ClusterSize { get; }

    public bool ExtendedL2 { get; }

    public int L2EntrySize { get; }

    /// <summary>Entries in one L2 table (one cluster).</summary>
    public int L2Entries { get; }

    public int SubclustersPerCluster { get; }

    public int SubclusterSize { get; }

    /// <summary>Spec §7: an extended L2 entry splits its cluster into 32 subclusters; a standard one is one subcluster.</summary>
    public static int SubclusterSizeOf(int clusterSize, bool extendedL2) => extendedL2 ? clusterSize / 32 : clusterSize;

    public int RefcountOrder { get; }

    public int RefcountBits { get; }

    public int RefblockEntries { get; }

    /// <summary>Largest refcount an entry can hold.</summary>
    public ulong MaxRefcount => RefcountBits == 64 ? ulong.MaxValue : (1UL << RefcountBits) - 1;

    /// <summary>Guest bytes mapped by one L2 table.</summary>
    public long BytesPerL2Table => (long)L2Entries * ClusterSize;

    /// <summary>Host bytes described by one refcount block.</summary>
    public long BytesPerRefblock => (long)RefblockEntries * ClusterSize;

    // Guest side (spec §4).

    public long L1Index(GuestOffset offset) => (offset.Value >> ClusterBits) / L2Entries;

    public int L2Index(GuestOffset offset) => (int)((offset.Value >> ClusterBits) % L2Entries);

    /// <summary>Byte position of the L2 entry for <paramref name="offset"/> inside its L2 table.</summary>
    public int L2EntryPosition(GuestOffset offset) => L2Index(offset) * L2EntrySize;

    /// <summary>The first guest byte mapped by L1 entry <paramref name="l1Index"/>.</summary>
    public GuestOffset L2TableStart(long l1Index) => new(l1Index * BytesPerL2Table);

    /// <summary>The first guest byte of the next L2 table's range after the one holding <paramref name="offset"/>.</summary>
    public GuestOffset NextL2TableStart(GuestOffset offset) => L2TableStart(L1Index(offset) + 1);

    public GuestOffset ClusterStart(GuestOffset offset) => new(offset.Value & ~(long)(ClusterSize - 1));

    /// <summary>The first byte of the next cluster after the one holding <paramref name="offset"/>.</summary>
    public GuestOffset NextClusterStart(GuestOffset offset) => ClusterStart(offset) + ClusterSize;

    public int OffsetInCluster(GuestOffset offset) => (int)(offset.Value & (ClusterSize - 1));

    public bool IsClusterAligned(GuestOffset offset) => (offset.Value & (ClusterSize - 1)) == 0;

    /// <summary>Index of the subcluster holding byte <paramref name="inCluster"/> of a cluster (0 with standard L2).</summary>
    public int SubclusterOf(int inCluster) => inCluster / SubclusterSize;

    /// <summary>Byte position in its cluster of subcluster <paramref name="subcluster"/> (the cluster's end for <see cref="SubclustersPerCluster"/>).</summary>
    public int SubclusterStart(int subcluster) => subcluster * SubclusterSize;

    public int SubclusterIndex(GuestOffset offset) => SubclusterOf(OffsetInCluster(offset));

    /// <summary>L1 entries needed to map <paramref name="virtualSize"/> bytes.</summary>
    public long L1EntriesFor(long virtualSize) => (virtualSize + BytesPerL2Table - 1) / BytesPerL2Table;

    // Host side (spec §5).

    public HostCluster ClusterOf(HostOffset offset) => new(offset.Value >> ClusterBits);

    public HostOffset StartOf(HostCluster cluster) => new(cluster.Index << ClusterBits);

    public HostOffset ClusterStart(HostOffset offset) => new(offset.Value & ~(long)(ClusterSize - 1));

    public int OffsetInCluster(HostOffset offset) => (int)(offset.Value & (ClusterSize - 1));

    public bool IsClusterAligned(HostOffset offset) => (offset.Value & (ClusterSize - 1)) == 0;

    /// <summary>The first and last host cluster that <paramref name="length"/> (≥ 1) bytes at <paramref name="start"/> touch.</summary>
    public (HostCluster First, HostCluster Last) ClustersOf(HostOffset start, long length) =>
        (ClusterOf(start), ClusterOf(start + (Math.Max(length, 1) - 1)));

    /// <summary>Clusters of a file (or a structure) of <paramref name="bytes"/> bytes, the last one partial.</summary>
    public long ClustersFor(long bytes) => (bytes + ClusterSize - 1) >> ClusterBits;

    /// <summary>The cluster just past a file of <paramref name="bytes"/> bytes (its clusters rounded up).</summary>
    public HostCluster ClusterEnd(long bytes) => new(ClustersFor(bytes));

    /// <summary>Index of the refcount table entry whose block holds the refcount of <paramref name="cluster"/>.</summary>
    public long RefcountTableIndex(HostCluster cluster) => cluster.Index / RefblockEntries;

    /// <summary>Index of <paramref name="cluster"/>'s refcount inside its refcount block.</summary>
    public int RefblockIndex(HostCluster cluster) => (int)(cluster.Index % RefblockEntries);

    /// <summary>The first cluster whose refcount the block of refcount table entry <paramref name="tableIndex"/> holds.</summary>
    public HostCluster FirstClusterOfRefblock(long tableIndex) => new(tableIndex * RefblockEntries);

    /// <summary>Refcount blocks needed to describe <paramref name="clusters"/> clusters.</summary>
    public long RefblocksFor(long clusters) => (clusters + RefblockEntries - 1) / RefblockEntries;
}
