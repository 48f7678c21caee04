namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>A refcount table entry (spec §5): bits 9–63 refcount block offset, bits 0–8 reserved.</summary>
public readonly record struct RefcountTableEntry(ulong Raw)
{
    public const ulong OffsetMask = 0xFFFFFFFFFFFFFE00UL;
    public const ulong ReservedMask = 0x1FFUL;

    public long BlockOffset => (long)(Raw & OffsetMask);

    public bool HasReservedBits => (Raw & ReservedMask) != 0;
}
