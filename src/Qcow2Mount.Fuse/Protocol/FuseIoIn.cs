using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Protocol;

/// <summary><c>struct fuse_read_in</c> and <c>struct fuse_write_in</c> (same 40-byte layout); READDIR uses it too.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseIoIn
{
    public ulong Fh;
    public ulong Offset;
    public uint Size;
    public uint IoFlags;
    public ulong LockOwner;
    public uint Flags;
    public uint Padding;
}
