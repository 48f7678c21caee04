using System.Buffers.Binary;

namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>
/// An L2 table entry (spec §4.2, §7): the 64-bit descriptor and, with extended L2 entries, the 64-bit
/// subcluster bitmap (0 for standard entries). Raw bits only: the accessors name fields and the builders set
/// them; <see cref="SubclusterDecoder"/> alone says what the bits mean for a subcluster.
/// </summary>
public readonly record struct L2Entry(ulong Raw, ulong Bitmap)
{
    public const ulong OffsetMask = 0x00FFFFFFFFFFFE00UL;
    public const ulong StandardReservedMask = 0x3F000000000001FEUL;
    public const ulong CompressedFlag = 1UL << 62;
    public const ulong CopiedFlag = 1UL << 63;
    public const ulong ZeroFlag = 1UL;

    /// <summary>Bitmap with every subcluster reading as zero and none allocated.</summary>
    public const ulong AllZeroBitmap = 0xFFFFFFFF00000000UL;

    public const uint AllAllocated = 0xFFFFFFFFu;

    /// <summary>The standard entry of a whole cluster that reads as zeros without a host cluster (v3, standard L2).</summary>
    public static readonly L2Entry ZeroPlainCluster = new(ZeroFlag, 0);

    /// <summary>The extended entry of a whole cluster that reads as zeros without a host cluster.</summary>
    public static readonly L2Entry ZeroPlainExtended = new(0, AllZeroBitmap);

    public bool IsCompressed => (Raw & CompressedFlag) != 0;

    public bool IsCopied => (Raw & CopiedFlag) != 0;

    /// <summary>The host cluster field of a standard entry as stored (0 = none); not meaningful for compressed entries.</summary>
    public HostOffset HostClusterOffset => new(IsCompressed ? 0 : (long)(Raw & OffsetMask));

    /// <summary>Descriptor bit 0 (standard L2 only; ignored with extended L2).</summary>
    public bool HasZeroFlag => !IsCompressed && (Raw & ZeroFlag) != 0;

    public uint AllocationBits => (uint)Bitmap;

    public uint ZeroBits => (uint)(Bitmap >> 32);

    public bool HasReservedBits => !IsCompressed && (Raw & StandardReservedMask) != 0;

    /// <summary>True for the all-zero entry (nothing mapped, no flag, empty bitmap).</summary>
    public bool IsEmpty => Raw == 0 && Bitmap == 0;

    /// <summary>The entry at byte <paramref name="position"/> of an L2 table (or slice): 8 bytes, or 16 with extended L2.</summary>
    public static L2Entry Read(ReadOnlySpan<byte> table, int position, bool extendedL2) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(table[position..]), extendedL2 ? BinaryPrimitives.ReadUInt64BigEndian(table[(position + 8)..]) : 0);

    /// <summary>Stores the entry at byte <paramref name="position"/> of an L2 table (or slice), big-endian.</summary>
    public void Write(Span<byte> table, int position, bool extendedL2)
    {
        BinaryPrimitives.WriteUInt64BigEndian(table[position..], Raw);
        if (extendedL2)
        {
            BinaryPrimitives.WriteUInt64BigEndian(table[(position + 8)..], Bitmap);
        }
    }

    public static L2Entry Standard(HostOffset hostOffset, bool copied, ulong bitmap = 0, bool zeroFlag = false) =>
        new(((ulong)hostOffset.Value & OffsetMask) | (copied ? CopiedFlag : 0) | (zeroFlag ? ZeroFlag : 0), bitmap);

    public static ulong MakeBitmap(uint allocated, uint zero) => allocated | ((ulong)zero << 32);

    /// <summary>Bits <paramref name="first"/>..<paramref name="last"/> (inclusive) of a 32-bit subcluster mask.</summary>
    public static uint SubclusterMask(int first, int last) =>
        last >= 31 ? uint.MaxValue << first : ((1u << (last + 1)) - 1) & (uint.MaxValue << first);

    /// <summary>
    /// The entry after a write to the subclusters in <paramref name="written"/>: a standard entry at
    /// <paramref name="host"/>, COPIED, those subclusters allocated and no longer zero, the others as they were (a
    /// compressed cluster had none).
    /// </summary>
    public L2Entry AfterWrite(HostOffset host, uint written)
    {
        uint alloc = IsCompressed ? 0 : AllocationBits;
        uint zero = IsCompressed ? 0 : ZeroBits;
        return Standard(host, copied: true, MakeBitmap(alloc | written, zero & ~written));
    }

    public L2Entry WithBitmap(uint allocated, uint zero) => this with { Bitmap = MakeBitmap(allocated, zero) };

    /// <summary>The subclusters in <paramref name="mask"/> read as zeros: zero bits set, allocation bits cleared.</summary>
    public L2Entry WithSubclustersZero(uint mask) => WithBitmap(AllocationBits & ~mask, ZeroBits | mask);

    /// <summary>The same entry with every subcluster reading as zeros (host cluster and flags kept).</summary>
    public L2Entry WithAllZero(bool extendedL2) => extendedL2 ? this with { Bitmap = AllZeroBitmap } : new(Raw | ZeroFlag, 0);

    /// <summary>Repair of an "allocated and zero" bitmap: the data is in the cluster, so the contradicting zero bits go.</summary>
    public L2Entry WithoutZeroBitsOfAllocated() => WithBitmap(AllocationBits, ZeroBits & ~AllocationBits);

    /// <summary>Repair of allocation bits on an entry without a host cluster: they are dropped.</summary>
    public L2Entry WithoutAllocationBits() => WithBitmap(0, ZeroBits);

    /// <summary>The same entry with COPIED set or cleared (a repair of the flag).</summary>
    public L2Entry WithCopied(bool copied) => this with { Raw = copied ? Raw | CopiedFlag : Raw & ~CopiedFlag };
}
