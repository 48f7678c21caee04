using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Protocol;

/// <summary><c>struct fuse_kstatfs</c> (80 bytes), the body of <c>fuse_statfs_out</c>.</summary>
[StructLayout(LayoutKind.Sequential, Size = 80)]
internal struct FuseKStatFs
{
    public ulong Blocks;
    public ulong BlocksFree;
    public ulong BlocksAvailable;
    public ulong Files;
    public ulong FilesFree;
    public uint BlockSize;
    public uint NameLength;
    public uint FragmentSize;
}
