using System.Buffers.Binary;
using System.Text;
using Qcow2Mount.Core.Errors;

namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>One internal snapshot (spec §10 snapshot table entry); extra data is kept verbatim.</summary>
public sealed record SnapshotTableEntry
{
    public const int FixedLength = 40;
    public const int MaxExtraData = 1024;

    public long L1TableOffset { get; init; }

    public uint L1Size { get; init; }

    public string Id { get; init; } = "";

    public string Name { get; init; } = "";

    public uint DateSeconds { get; init; }

    public uint DateNanoseconds { get; init; }

    public ulong VmClockNanoseconds { get; init; }

    public uint VmStateSize32 { get; init; }

    public byte[] ExtraData { get; init; } = [];

    /// <summary>Virtual disk size when the snapshot was taken (extra data bytes 8–15), or -1 if absent.</summary>
    public long DiskSize => ExtraData.Length >= 16 ? (long)BinaryPrimitives.ReadUInt64BigEndian(ExtraData.AsSpan(8)) : -1;

    /// <summary>Parses the entry at the start of <paramref name="data"/>; returns it and its length without padding.</summary>
    public static (SnapshotTableEntry Entry, int Length) Parse(ReadOnlySpan<byte> data, string name)
    {
        if (data.Length < FixedLength)
        {
            throw new ImageFormatException($"{name}: snapshot table entry is truncated");
        }

        int idLength = BinaryPrimitives.ReadUInt16BigEndian(data[12..]);
        int nameLength = BinaryPrimitives.ReadUInt16BigEndian(data[14..]);
        uint extraLength = BinaryPrimitives.ReadUInt32BigEndian(data[36..]);
        if (extraLength > MaxExtraData)
        {
            throw new ImageFormatException($"{name}: snapshot extra data size {extraLength} exceeds {MaxExtraData}");
        }

        int total = FixedLength + (int)extraLength + idLength + nameLength;
        if (data.Length < total)
        {
            throw new ImageFormatException($"{name}: snapshot table entry runs past the end of the snapshot table");
        }

        int pos = FixedLength;
        var extra = data.Slice(pos, (int)extraLength).ToArray();
        pos += (int)extraLength;
        string id = Encoding.UTF8.GetString(data.Slice(pos, idLength));
        pos += idLength;
        string snapName = Encoding.UTF8.GetString(data.Slice(pos, nameLength));
        var entry = new SnapshotTableEntry
        {
            L1TableOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(data),
            L1Size = BinaryPrimitives.ReadUInt32BigEndian(data[8..]),
            DateSeconds = BinaryPrimitives.ReadUInt32BigEndian(data[16..]),
            DateNanoseconds = BinaryPrimitives.ReadUInt32BigEndian(data[20..]),
            VmClockNanoseconds = BinaryPrimitives.ReadUInt64BigEndian(data[24..]),
            VmStateSize32 = BinaryPrimitives.ReadUInt32BigEndian(data[32..]),
            ExtraData = extra,
            Id = id,
            Name = snapName,
        };
        return (entry, total);
    }

    /// <summary>Reads <paramref name="count"/> entries (entries are padded to 8 bytes between each other).</summary>
    public static List<SnapshotTableEntry> ParseTable(ReadOnlySpan<byte> table, uint count, string name)
    {
        var list = new List<SnapshotTableEntry>((int)Math.Min(count, 1024));
        int pos = 0;
        for (uint i = 0; i < count; i++)
        {
            if (pos > table.Length)
            {
                throw new ImageFormatException($"{name}: snapshot table is truncated at entry {i}");
            }

            var (entry, length) = Parse(table[pos..], name);
            list.Add(entry);
            pos += (length + 7) & ~7;
        }

        return list;
    }

    /// <summary>
    /// The table as QEMU writes it (spec §10): entries in order, each padded to 8 bytes before the next one, the last
    /// one unpadded (the length the table's clusters cover).
    /// </summary>
    public static byte[] SerializeTable(IReadOnlyList<SnapshotTableEntry> entries)
    {
        int length = 0;
        foreach (var e in entries)
        {
            length = ((length + 7) & ~7) + e.UnpaddedLength;
        }

        var table = new byte[length];
        int pos = 0;
        foreach (var e in entries)
        {
            pos = (pos + 7) & ~7;
            pos += e.WriteTo(table.AsSpan(pos));
        }

        return table;
    }

    /// <summary>Writes the entry at the start of <paramref name="destination"/>; returns its unpadded length.</summary>
    public int WriteTo(Span<byte> destination)
    {
        var id = Encoding.UTF8.GetBytes(Id);
        var name = Encoding.UTF8.GetBytes(Name);
        BinaryPrimitives.WriteUInt64BigEndian(destination, (ulong)L1TableOffset);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], L1Size);
        BinaryPrimitives.WriteUInt16BigEndian(destination[12..], (ushort)id.Length);
        BinaryPrimitives.WriteUInt16BigEndian(destination[14..], (ushort)name.Length);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], DateSeconds);
        BinaryPrimitives.WriteUInt32BigEndian(destination[20..], DateNanoseconds);
        BinaryPrimitives.WriteUInt64BigEndian(destination[24..], VmClockNanoseconds);
        BinaryPrimitives.WriteUInt32BigEndian(destination[32..], VmStateSize32);
        BinaryPrimitives.WriteUInt32BigEndian(destination[36..], (uint)ExtraData.Length);
        int pos = FixedLength;
        ExtraData.CopyTo(destination[pos..]);
        pos += ExtraData.Length;
        id.CopyTo(destination[pos..]);
        pos += id.Length;
        name.CopyTo(destination[pos..]);
        return pos + name.Length;
    }

    /// <summary>Bytes the entry takes without padding.</summary>
    public int UnpaddedLength => FixedLength + ExtraData.Length + Encoding.UTF8.GetByteCount(Id) + Encoding.UTF8.GetByteCount(Name);

    /// <summary>Bytes an entry takes, padded to 8.</summary>
    public int EncodedLength => (FixedLength + ExtraData.Length + Encoding.UTF8.GetByteCount(Id) + Encoding.UTF8.GetByteCount(Name) + 7) & ~7;
}
