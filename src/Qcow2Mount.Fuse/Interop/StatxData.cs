using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

/// <summary>
/// <c>struct statx</c> (256 bytes, the same on every Linux architecture), read only for the mount a path is on: the
/// fields before <c>stx_mnt_id</c> are not named.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 256)]
internal struct StatxData
{
    /// <summary><c>stx_mask</c>: which fields the kernel filled.</summary>
    [FieldOffset(0)]
    public uint Mask;

    /// <summary><c>stx_mnt_id</c>: the mount's ID, the first field of its line in mountinfo (Linux 5.8 and later).</summary>
    [FieldOffset(144)]
    public ulong MountId;
}
