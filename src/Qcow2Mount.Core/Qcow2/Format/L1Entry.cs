namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>An L1 table entry (spec §4.1): raw bits; bits 9–55 L2 table offset, bit 63 COPIED.</summary>
public readonly record struct L1Entry(ulong Raw)
{
    public const ulong OffsetMask = 0x00FFFFFFFFFFFE00UL;
    public const ulong ReservedMask = 0x7F000000000001FFUL;
    public const ulong CopiedFlag = 1UL << 63;

    public long L2TableOffset => (long)(Raw & OffsetMask);

    public bool IsCopied => (Raw & CopiedFlag) != 0;

    public bool HasReservedBits => (Raw & ReservedMask) != 0;

    public static L1Entry For(long l2TableOffset, bool copied) =>
        new(((ulong)l2TableOffset & OffsetMask) | (copied ? CopiedFlag : 0));
}
