using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Protocol;

/// <summary><c>struct fuse_open_out</c>: the file handle and the FOPEN_* flags for this open file.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseOpenOut
{
    /// <summary>Keep the file's page cache across opens (it changes only through this mount).</summary>
    public const uint KeepCache = 1 << 1;

    /// <summary>Direct writes that do not extend the file run in parallel (the kernel otherwise serialises them per inode).</summary>
    public const uint ParallelDirectWrites = 1 << 6;

    public ulong Fh;
    public uint OpenFlags;
    public uint Padding;
}
