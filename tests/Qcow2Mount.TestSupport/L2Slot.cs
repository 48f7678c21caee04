namespace Qcow2Mount.TestSupport;

/// <summary>
/// One raw L2 entry as stored on disk (the oracle's view; no engine code): the 64-bit descriptor and, with extended
/// L2 entries, the 64-bit subcluster bitmap (alloc bits 0–31, zero bits 32–63). <see cref="Bitmap"/> is 0 for standard L2.
/// </summary>
public readonly record struct L2Slot(ulong Entry, ulong Bitmap)
{
    private const ulong OffsetMask = 0x00FF_FFFF_FFFF_FE00;

    /// <summary>Bit 62: a compressed cluster descriptor.</summary>
    public bool IsCompressed => (Entry & (1UL << 62)) != 0;

    /// <summary>Bit 63: the "copied" flag (refcount exactly 1).</summary>
    public bool IsCopied => (Entry & (1UL << 63)) != 0;

    /// <summary>Host cluster offset of a standard descriptor (0 = none); 0 for compressed descriptors.</summary>
    public long HostOffset => IsCompressed ? 0 : (long)(Entry & OffsetMask);

    /// <summary>The entry points at host storage (a standard cluster with an offset, or compressed data).</summary>
    public bool IsAllocated => IsCompressed || HostOffset != 0;

    /// <summary>Descriptor bit 0 ("reads as zero", standard L2 v3 only).</summary>
    public bool ZeroFlag => !IsCompressed && (Entry & 1) != 0;

    /// <summary>Extended L2: subcluster x is allocated in the host cluster when bit x is set.</summary>
    public uint AllocationBits => (uint)Bitmap;

    /// <summary>Extended L2: subcluster x reads as zeros when bit x is set.</summary>
    public uint ZeroBits => (uint)(Bitmap >> 32);

    public override string ToString() =>
        $"entry=0x{Entry:X16} ({(IsCompressed ? "compressed" : IsAllocated ? $"host 0x{HostOffset:x}" : "unallocated")}{(IsCopied ? ", copied" : string.Empty)}{(ZeroFlag ? ", zero flag" : string.Empty)}) alloc=0x{AllocationBits:X8} zero=0x{ZeroBits:X8}";
}
