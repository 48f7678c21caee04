namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>An L1 table entry (spec §4.1): raw bits; bits 9–55 L2 table offset, bit 63 COPIED.</summary>
public readonly record struct L1Entry(ulong Raw)
{
    public const ulong OffsetMask = 0x00FFFFFFFFFFFE00UL;
    public const ulong ReservedMask = 0x7F000000000001FFUL;
    public const ulong CopiedFlag = 1UL << 63;

    /// <summary>The L2 table's host offset as stored (0 = no table); validated by whoever follows it.</summary>
    public HostOffset L2Table => new((long)(Raw & OffsetMask));

    public bool HasL2Table => (Raw & OffsetMask) != 0;

    public bool IsCopied => (Raw & CopiedFlag) != 0;

    public bool HasReservedBits => (Raw & ReservedMask) != 0;

    public static L1Entry For(HostOffset l2Table, bool copied) =>
        new(((ulong)l2Table.Value & OffsetMask) | (copied ? CopiedFlag : 0));

    /// <summary>The same entry with COPIED set or cleared (a repair of the flag).</summary>
    public L1Entry WithCopied(bool copied) => new(copied ? Raw | CopiedFlag : Raw & ~CopiedFlag);
}
