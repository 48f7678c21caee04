namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>
/// An L2 table entry (spec §4.2, §7): the 64-bit descriptor and, with extended L2 entries, the 64-bit
/// subcluster bitmap (0 for standard entries). Raw bits only; <see cref="SubclusterDecoder"/> gives them meaning.
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

    public bool IsCompressed => (Raw & CompressedFlag) != 0;

    public bool IsCopied => (Raw & CopiedFlag) != 0;

    /// <summary>Host cluster offset of a standard entry (0 = none).</summary>
    public long HostClusterOffset => IsCompressed ? 0 : (long)(Raw & OffsetMask);

    /// <summary>Descriptor bit 0 (standard L2 only; ignored with extended L2).</summary>
    public bool HasZeroFlag => !IsCompressed && (Raw & ZeroFlag) != 0;

    public uint AllocationBits => (uint)Bitmap;

    public uint ZeroBits => (uint)(Bitmap >> 32);

    public bool HasReservedBits => !IsCompressed && (Raw & StandardReservedMask) != 0;

    public static L2Entry Standard(long hostOffset, bool copied, ulong bitmap = 0, bool zeroFlag = false) =>
        new(((ulong)hostOffset & OffsetMask) | (copied ? CopiedFlag : 0) | (zeroFlag ? ZeroFlag : 0), bitmap);

    public static ulong MakeBitmap(uint allocated, uint zero) => allocated | ((ulong)zero << 32);

    public L2Entry WithBitmap(uint allocated, uint zero) => this with { Bitmap = MakeBitmap(allocated, zero) };
}
