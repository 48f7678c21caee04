using System.Runtime.InteropServices;
using Qcow2Mount.Fuse.Interop;

namespace Qcow2Mount.Fuse;

/// <summary>Fills the architecture's <c>struct stat</c> (x86_64 and aarch64 differ, fuse-notes §3) from <see cref="NodeAttributes"/>.</summary>
internal static unsafe class StatWriter
{
    /// <summary>Block size advertised to readers (st_blksize): the page size, what loop devices and dd expect.</summary>
    private const int PreferredBlockSize = 4096;

    private static readonly bool IsArm64 = RuntimeInformation.ProcessArchitecture == Architecture.Arm64;

    public static void Write(void* stat, in NodeAttributes a, uint uid, uint gid)
    {
        var time = Timespec.FromUtc(a.ModifiedUtc);
        long blocks = (a.Size + 511) / 512;
        if (IsArm64)
        {
            *(StatArm64*)stat = new StatArm64
            {
                Ino = a.Inode, Mode = a.Mode, NLink = a.LinkCount, Uid = uid, Gid = gid, Size = a.Size,
                BlkSize = PreferredBlockSize, Blocks = blocks, ATime = time, MTime = time, CTime = time,
            };
        }
        else
        {
            *(StatX64*)stat = new StatX64
            {
                Ino = a.Inode, Mode = a.Mode, NLink = a.LinkCount, Uid = uid, Gid = gid, Size = a.Size,
                BlkSize = PreferredBlockSize, Blocks = blocks, ATime = time, MTime = time, CTime = time,
            };
        }
    }
}
