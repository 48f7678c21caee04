using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

/// <summary><c>struct fuse_args</c> (24 bytes). <c>fuse_new</c> swaps in a malloc'd copy (Allocated = 1): free it with <c>fuse_opt_free_args</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct FuseArgs
{
    public int Argc;
    public byte** Argv;
    public int Allocated;
}
