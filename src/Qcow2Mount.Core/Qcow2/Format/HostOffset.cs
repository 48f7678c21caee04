namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>
/// A byte offset in the image file (or the external data file): where a structure or guest data is stored.
/// <see cref="None"/> (-1) stands for "no host location"; 0 is cluster 0 (the header, or with an external data
/// file the first guest cluster). Cluster indexes of host offsets are <see cref="HostCluster"/>, converted by
/// <see cref="ClusterGeometry"/>.
/// </summary>
public readonly record struct HostOffset(long Value) : IComparable<HostOffset>
{
    /// <summary>No host location (an unallocated or compressed run, an absent table).</summary>
    public static readonly HostOffset None = new(-1);

    public bool IsNone => Value < 0;

    public static HostOffset operator +(HostOffset offset, long bytes) => new(offset.Value + bytes);

    /// <summary>Bytes from <paramref name="b"/> to <paramref name="a"/>.</summary>
    public static long operator -(HostOffset a, HostOffset b) => a.Value - b.Value;

    public static bool operator <(HostOffset a, HostOffset b) => a.Value < b.Value;

    public static bool operator >(HostOffset a, HostOffset b) => a.Value > b.Value;

    public static bool operator <=(HostOffset a, HostOffset b) => a.Value <= b.Value;

    public static bool operator >=(HostOffset a, HostOffset b) => a.Value >= b.Value;

    public int CompareTo(HostOffset other) => Value.CompareTo(other.Value);

    public override string ToString() => $"0x{Value:x}";
}
