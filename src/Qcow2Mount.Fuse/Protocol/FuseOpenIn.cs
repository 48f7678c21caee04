using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Protocol;

/// <summary><c>struct fuse_open_in</c>: the open(2) flags.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseOpenIn
{
    public int Flags;
    public uint OpenFlags;
}
