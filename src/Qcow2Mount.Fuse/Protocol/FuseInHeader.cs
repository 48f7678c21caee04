using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Protocol;

/// <summary><c>struct fuse_in_header</c> (40 bytes): starts every request read from /dev/fuse.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseInHeader
{
    public uint Length;
    public FuseOpcode Opcode;
    public ulong Unique;
    public ulong NodeId;
    public uint Uid;
    public uint Gid;
    public uint Pid;
    public ushort TotalExtLength;
    public ushort Padding;
}
