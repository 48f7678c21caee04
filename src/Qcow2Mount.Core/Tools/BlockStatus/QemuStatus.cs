namespace Qcow2Mount.Core.Tools.BlockStatus;

/// <summary>
/// The block-status flags qemu-img works with (QEMU's BDRV_BLOCK_* values, so a flag set reads like QEMU's). compare -s
/// fails when the two images' flags differ, so the emulation keeps every flag QEMU 7.2 returns to qemu-img.
/// </summary>
[Flags]
public enum QemuStatus
{
    None = 0,

    /// <summary>The range holds data (it may still read as zeros).</summary>
    Data = 0x01,

    /// <summary>The range reads as zeros.</summary>
    Zero = 0x02,

    /// <summary>A host offset is known for the range.</summary>
    OffsetValid = 0x04,

    /// <summary>Some layer of the chain decides the content (DATA or ZERO from the layer itself).</summary>
    Allocated = 0x10,

    /// <summary>The range ends at the end of the image that was asked.</summary>
    Eof = 0x20,
}

/// <summary>A run of guest bytes with one status; <see cref="Depth"/> is the chain layer that decided it (0 = the image itself).</summary>
public readonly record struct StatusRun(QemuStatus Flags, long Length, int Depth)
{
    public bool IsZero => (Flags & QemuStatus.Zero) != 0;

    public bool IsAllocated => (Flags & QemuStatus.Allocated) != 0;

    public bool IsData => (Flags & QemuStatus.Data) != 0;
}
