using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Protocol;

/// <summary><c>struct fuse_setattr_in</c> (88 bytes); <see cref="Valid"/> holds the FATTR_* bits of the fields to change.</summary>
[StructLayout(LayoutKind.Sequential, Size = 88)]
internal struct FuseSetAttrIn
{
    public const uint Mode = 1 << 0, Uid = 1 << 1, Gid = 1 << 2, Size = 1 << 3;

    public uint Valid;
    public uint Padding;
    public ulong Fh;
    public ulong NewSize;
}
