namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>
/// The index of a host cluster (host offset >> cluster_bits): the unit refcounts count (spec §5) and allocation
/// hands out. Kept apart from <see cref="HostOffset"/> so an index is never used as a byte offset or the reverse.
/// </summary>
public readonly record struct HostCluster(long Index) : IComparable<HostCluster>
{
    public HostCluster Next => new(Index + 1);

    public HostCluster Previous => new(Index - 1);

    public static HostCluster operator +(HostCluster cluster, long count) => new(cluster.Index + count);

    /// <summary>Clusters from <paramref name="b"/> to <paramref name="a"/>.</summary>
    public static long operator -(HostCluster a, HostCluster b) => a.Index - b.Index;

    public static bool operator <(HostCluster a, HostCluster b) => a.Index < b.Index;

    public static bool operator >(HostCluster a, HostCluster b) => a.Index > b.Index;

    public static bool operator <=(HostCluster a, HostCluster b) => a.Index <= b.Index;

    public static bool operator >=(HostCluster a, HostCluster b) => a.Index >= b.Index;

    public int CompareTo(HostCluster other) => Index.CompareTo(other.Index);

    public override string ToString() => $"cluster {Index}";
}
