namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>
/// The index arithmetic of one image (spec §4 guest translation, §5 refcounts, §7 subclusters), in one place.
/// Immutable; every offset split into L1 index, L2 index, subcluster index and refcount indices goes through here.
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
        SubclusterSize = ClusterSize / SubclustersPerCluster;
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

    public int RefcountOrder { get; }

    public int RefcountBits { get; }

    public int RefblockEntries { get; }

    /// <summary>Largest refcount an entry can hold.</summary>
    public ulong MaxRefcount => RefcountBits == 64 ? ulong.MaxValue : (1UL << RefcountBits) - 1;

    /// <summary>Guest bytes mapped by one L2 table.</summary>
    public long BytesPerL2Table => (long)L2Entries * ClusterSize;

    public long ClusterIndex(long offset) => offset >> ClusterBits;

    public long L1Index(long guestOffset) => (guestOffset >> ClusterBits) / L2Entries;

    public int L2Index(long guestOffset) => (int)((guestOffset >> ClusterBits) % L2Entries);

    public int OffsetInCluster(long offset) => (int)(offset & (ClusterSize - 1));

    public int SubclusterIndex(long guestOffset) => OffsetInCluster(guestOffset) / SubclusterSize;

    public long ClusterStart(long offset) => offset & ~(long)(ClusterSize - 1);

    public bool IsClusterAligned(long offset) => (offset & (ClusterSize - 1)) == 0;

    /// <summary>L1 entries needed to map <paramref name="virtualSize"/> bytes.</summary>
    public long L1EntriesFor(long virtualSize) => (virtualSize + BytesPerL2Table - 1) / BytesPerL2Table;

    public long RefcountTableIndex(long hostOffset) => (hostOffset >> ClusterBits) / RefblockEntries;

    public int RefblockIndex(long hostOffset) => (int)((hostOffset >> ClusterBits) % RefblockEntries);

    /// <summary>Host bytes described by one refcount block.</summary>
    public long BytesPerRefblock => (long)RefblockEntries * ClusterSize;

    public long ClustersFor(long bytes) => (bytes + ClusterSize - 1) >> ClusterBits;
}
