using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Protocol;

/// <summary><c>struct fuse_out_header</c> (16 bytes): starts every reply; <see cref="Error"/> is 0 or −errno.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseOutHeader
{
    public uint Length;
    public int Error;
    public ulong Unique;
}
