namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>
/// A byte offset on the virtual disk (spec §4: what the L1 and L2 tables translate). Kept apart from
/// <see cref="HostOffset"/> so a guest position can never be used as a place in the file; the index arithmetic on it
/// lives in <see cref="ClusterGeometry"/>.
/// </summary>
public readonly record struct GuestOffset(long Value) : IComparable<GuestOffset>
{
    public static GuestOffset operator +(GuestOffset offset, long bytes) => new(offset.Value + bytes);

    public static GuestOffset operator -(GuestOffset offset, long bytes) => new(offset.Value - bytes);

    /// <summary>Bytes from <paramref name="b"/> to <paramref name="a"/>.</summary>
    public static long operator -(GuestOffset a, GuestOffset b) => a.Value - b.Value;

    public static bool operator <(GuestOffset a, GuestOffset b) => a.Value < b.Value;

    public static bool operator >(GuestOffset a, GuestOffset b) => a.Value > b.Value;

    public static bool operator <=(GuestOffset a, GuestOffset b) => a.Value <= b.Value;

    public static bool operator >=(GuestOffset a, GuestOffset b) => a.Value >= b.Value;

    public static GuestOffset Min(GuestOffset a, GuestOffset b) => a.Value <= b.Value ? a : b;

    public int CompareTo(GuestOffset other) => Value.CompareTo(other.Value);

    public override string ToString() => $"0x{Value:x}";
}
