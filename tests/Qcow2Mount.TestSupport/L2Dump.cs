using System.Buffers.Binary;

namespace Qcow2Mount.TestSupport;

/// <summary>
/// An independent, minimal qcow2 reader used as an oracle: it reads the header fields it needs straight from bytes
/// (cluster_bits, size, l1_size, l1_table_offset, incompatible bit 4 = extended L2) and returns the raw L2 entry
/// of every guest cluster of the active L1. It shares no code with the engine on purpose.
/// </summary>
public sealed class L2Dump
{
    private const uint Magic = 0x514649FB;
    private const ulong L1OffsetMask = 0x00FF_FFFF_FFFF_FE00;
    private const ulong ExtendedL2Bit = 1UL << 4;

    private readonly Dictionary<long, byte[]> _l2Tables;

    private L2Dump(int version, int clusterBits, long virtualSize, bool extendedL2, Dictionary<long, byte[]> l2Tables)
    {
        Version = version;
        ClusterBits = clusterBits;
        VirtualSize = virtualSize;
        ExtendedL2 = extendedL2;
        _l2Tables = l2Tables;
    }

    public int Version { get; }

    public int ClusterBits { get; }

    public long ClusterSize => 1L << ClusterBits;

    public long VirtualSize { get; }

    public bool ExtendedL2 { get; }

    /// <summary>Guest clusters covering the virtual disk (the last may be partial).</summary>
    public long ClusterCount => (VirtualSize + ClusterSize - 1) >> ClusterBits;

    /// <summary>Entries per L2 table: cluster_size / 8, or / 16 with extended L2.</summary>
    public long L2Entries => ClusterSize / (ExtendedL2 ? 16 : 8);

    /// <summary>Subcluster size with extended L2 (cluster / 32); the cluster size otherwise.</summary>
    public long SubclusterSize => ExtendedL2 ? ClusterSize / 32 : ClusterSize;

    /// <summary>The raw entry of <paramref name="guestCluster"/>, or null when its L2 table is not allocated.</summary>
    public L2Slot? this[long guestCluster]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(guestCluster);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(guestCluster, ClusterCount);
            if (!_l2Tables.TryGetValue(guestCluster / L2Entries, out byte[]? table))
            {
                return null;
            }

            int at = (int)(guestCluster % L2Entries) * (ExtendedL2 ? 16 : 8);
            ulong entry = BinaryPrimitives.ReadUInt64BigEndian(table.AsSpan(at, 8));
            ulong bitmap = ExtendedL2 ? BinaryPrimitives.ReadUInt64BigEndian(table.AsSpan(at + 8, 8)) : 0;
            return new L2Slot(entry, bitmap);
        }
    }

    /// <summary>The entry of <paramref name="guestCluster"/>, an absent L2 table reading as an all-zero entry.</summary>
    public L2Slot SlotOrEmpty(long guestCluster) => this[guestCluster] ?? default;

    /// <summary>Clusters whose L2 entry is not all-zero, with their entry.</summary>
    public IEnumerable<(long GuestCluster, L2Slot Slot)> NonEmptySlots()
    {
        foreach (long l1Index in _l2Tables.Keys.Order())
        {
            long first = l1Index * L2Entries;
            long end = Math.Min(first + L2Entries, ClusterCount);
            for (long c = first; c < end; c++)
            {
                L2Slot slot = SlotOrEmpty(c);
                if (slot != default)
                {
                    yield return (c, slot);
                }
            }
        }
    }

    /// <summary>One line per non-empty cluster, for failure messages.</summary>
    public string Describe() =>
        string.Join('\n', NonEmptySlots().Select(s => $"  cluster {s.GuestCluster}: {s.Slot}"));

    public static L2Dump Load(string path)
    {
        using FileStream file = new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        Span<byte> header = stackalloc byte[104];
        int headerBytes = DiskContent.ReadFully(file.SafeFileHandle, header, 0);
        if (headerBytes < 72 || BinaryPrimitives.ReadUInt32BigEndian(header) != Magic)
        {
            throw new InvalidDataException($"{path}: not a qcow2 image");
        }

        int version = (int)BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        int clusterBits = (int)BinaryPrimitives.ReadUInt32BigEndian(header[20..]);
        long size = (long)BinaryPrimitives.ReadUInt64BigEndian(header[24..]);
        long l1Size = BinaryPrimitives.ReadUInt32BigEndian(header[36..]);
        long l1Offset = (long)BinaryPrimitives.ReadUInt64BigEndian(header[40..]);
        ulong incompatible = version >= 3 && headerBytes >= 80 ? BinaryPrimitives.ReadUInt64BigEndian(header[72..]) : 0;
        if (clusterBits is < 9 or > 21 || version is < 2 or > 3)
        {
            throw new InvalidDataException($"{path}: version {version} / cluster_bits {clusterBits} out of range");
        }

        bool extended = (incompatible & ExtendedL2Bit) != 0;
        long clusterSize = 1L << clusterBits;
        var l1 = new byte[checked((int)(l1Size * 8))];
        if (DiskContent.ReadFully(file.SafeFileHandle, l1, l1Offset) != l1.Length)
        {
            throw new InvalidDataException($"{path}: L1 table at 0x{l1Offset:x} ({l1Size} entries) runs past the end of the file");
        }

        var tables = new Dictionary<long, byte[]>();
        for (int i = 0; i < l1Size; i++)
        {
            long l2Offset = (long)(BinaryPrimitives.ReadUInt64BigEndian(l1.AsSpan(i * 8)) & L1OffsetMask);
            if (l2Offset == 0)
            {
                continue;
            }

            var table = new byte[clusterSize];
            if (DiskContent.ReadFully(file.SafeFileHandle, table, l2Offset) != table.Length)
            {
                throw new InvalidDataException($"{path}: L2 table {i} at 0x{l2Offset:x} runs past the end of the file");
            }

            tables[i] = table;
        }

        return new L2Dump(version, clusterBits, size, extended, tables);
    }
}
