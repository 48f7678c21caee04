using System.Buffers.Binary;
using System.Text;

namespace Qcow2Mount.Core.Qcow2.Bitmaps;

/// <summary>
/// One bitmap directory entry (spec "Bitmaps", bitmap directory): where its bitmap table is, its flags, type,
/// granularity, extra data and name. Raw fields only; <see cref="BitmapDirectory"/> validates them.
/// </summary>
internal sealed record BitmapDirectoryEntry
{
    /// <summary>Flag bit 0: the bitmap on disk may miss writes (a writer had it open, or died with it open).</summary>
    public const uint FlagInUse = 1u << 0;

    /// <summary>Flag bit 1: the bitmap must track every write (an enabled bitmap; needs type 1).</summary>
    public const uint FlagAuto = 1u << 1;

    /// <summary>Flag bit 2: the extra data may be kept unchanged by a program that does not understand it.</summary>
    public const uint FlagExtraDataCompatible = 1u << 2;

    public const uint KnownFlags = FlagInUse | FlagAuto | FlagExtraDataCompatible;

    /// <summary>Type 1: dirty tracking bitmap (the only type the spec defines).</summary>
    public const byte TypeDirtyTracking = 1;

    /// <summary>Bytes before the extra data: table offset, table size, flags, type, granularity bits, name size, extra data size.</summary>
    public const int FixedLength = 24;

    public long TableOffset { get; init; }

    /// <summary>Entries (8 bytes each) of the bitmap table.</summary>
    public uint TableSize { get; init; }

    public uint Flags { get; init; }

    public byte Type { get; init; } = TypeDirtyTracking;

    public byte GranularityBits { get; init; }

    public byte[] ExtraData { get; init; } = [];

    /// <summary>The name as stored (UTF-8 bytes).</summary>
    public byte[] NameBytes { get; init; } = [];

    public string Name => Encoding.UTF8.GetString(NameBytes);

    public long Granularity => 1L << GranularityBits;

    public bool IsInUse => (Flags & FlagInUse) != 0;

    public bool IsAuto => (Flags & FlagAuto) != 0;

    /// <summary>Bytes the entry takes in the directory: fixed part, extra data and name, padded to 8.</summary>
    public int EncodedLength => (FixedLength + ExtraData.Length + NameBytes.Length + 7) & ~7;

    public BitmapDirectoryEntry WithFlag(uint flag, bool set) => this with { Flags = set ? Flags | flag : Flags & ~flag };

    /// <summary>Writes the entry (zero padding included) at the start of <paramref name="target"/>.</summary>
    public void Serialize(Span<byte> target)
    {
        target[..EncodedLength].Clear();
        BinaryPrimitives.WriteInt64BigEndian(target, TableOffset);
        BinaryPrimitives.WriteUInt32BigEndian(target[8..], TableSize);
        BinaryPrimitives.WriteUInt32BigEndian(target[12..], Flags);
        target[16] = Type;
        target[17] = GranularityBits;
        BinaryPrimitives.WriteUInt16BigEndian(target[18..], (ushort)NameBytes.Length);
        BinaryPrimitives.WriteUInt32BigEndian(target[20..], (uint)ExtraData.Length);
        ExtraData.CopyTo(target[FixedLength..]);
        NameBytes.CopyTo(target[(FixedLength + ExtraData.Length)..]);
    }
}
