namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>A bitmap table entry (spec §11): bits 9–55 the host offset of a bitmap data cluster (0 = none), bit 0 all-ones when none.</summary>
public readonly record struct BitmapTableEntry(ulong Raw)
{
    public const ulong OffsetMask = 0x00FFFFFFFFFFFE00UL;

    public HostOffset Data => new((long)(Raw & OffsetMask));
}
