using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Protocol;

/// <summary><c>struct fuse_lseek_in</c>; the reply is the resulting offset (<c>fuse_lseek_out</c>, one u64).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseLseekIn
{
    public ulong Fh;
    public long Offset;
    public int Whence;
    public uint Padding;
}
