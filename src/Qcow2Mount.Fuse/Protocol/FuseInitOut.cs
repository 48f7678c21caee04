using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Protocol;

/// <summary><c>struct fuse_init_out</c> (64 bytes): the server's side of the INIT handshake.</summary>
[StructLayout(LayoutKind.Sequential, Size = 64)]
internal struct FuseInitOut
{
    public uint Major;
    public uint Minor;
    public uint MaxReadahead;
    public uint Flags;
    public ushort MaxBackground;
    public ushort CongestionThreshold;
    public uint MaxWrite;
    public uint TimeGranularity;
    public ushort MaxPages;
    public ushort MapAlignment;
    public uint Flags2;
}
