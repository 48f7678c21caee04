using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Uring;

/// <summary><c>struct io_uring_cqe</c> (16 bytes): one completion, <see cref="Result"/> ≥ 0 or −errno.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringCqe
{
    public ulong UserData;
    public int Result;
    public uint Flags;
}
