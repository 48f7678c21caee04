using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

/// <summary><c>struct fuse_context</c> (40 bytes): who made the current request, and the user data given to <c>fuse_new</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseContext
{
    public nint Fuse;
    public uint Uid;
    public uint Gid;
    public int Pid;
    public nint PrivateData;
    public uint Umask;
}
