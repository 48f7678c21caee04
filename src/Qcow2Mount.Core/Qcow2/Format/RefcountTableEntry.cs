namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>A refcount table entry (spec §5): bits 9–63 refcount block offset, bits 0–8 reserved.</summary>
public readonly record struct RefcountTableEntry(ulong Raw)
{
    public const ulong OffsetMask = 0xFFFFFFFFFFFFFE00UL;
    public const ulong ReservedMask = 0x1FFUL;

    /// <summary>The refcount block's offset as stored (0 = no block); bit 63 set makes it negative.</summary>
    public HostOffset Block => new((long)(Raw & OffsetMask));

    public bool HasBlock => (Raw & OffsetMask) != 0;

    public bool HasReservedBits => (Raw & ReservedMask) != 0;

    public static RefcountTableEntry For(HostOffset block) => new((ulong)block.Value);
}
