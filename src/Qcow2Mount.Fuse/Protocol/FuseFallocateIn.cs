using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Protocol;

/// <summary><c>struct fuse_fallocate_in</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseFallocateIn
{
    public ulong Fh;
    public long Offset;
    public long Length;
    public int Mode;
    public uint Padding;
}
