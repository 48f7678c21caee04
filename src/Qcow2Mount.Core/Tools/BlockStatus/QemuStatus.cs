namespace Qcow2Mount.Core.Tools.BlockStatus;

/// <summary>
/// The block-status flags qemu-img works with (QEMU's BDRV_BLOCK_* values, so a flag set reads like QEMU's). compare -s
/// fails when the two images' flags differ, so the emulation keeps every flag QEMU 7.2 returns to qemu-img.
/// </summary>
[Flags]
internal enum QemuStatus
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
