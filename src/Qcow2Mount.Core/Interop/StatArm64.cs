using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

/// <summary>
/// glibc <c>struct stat</c> on aarch64 (128 bytes; mode before a 32-bit nlink, 32-bit blksize; fuse-notes §3). The
/// times (72, 88, 104) are not read.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct StatArm64
{
    [FieldOffset(0)] public ulong Dev;
    [FieldOffset(8)] public ulong Ino;
    [FieldOffset(16)] public uint Mode;
    [FieldOffset(20)] public uint NLink;
    [FieldOffset(24)] public uint Uid;
    [FieldOffset(28)] public uint Gid;
    [FieldOffset(32)] public ulong RDev;
    [FieldOffset(48)] public long Size;
    [FieldOffset(56)] public int BlkSize;
    [FieldOffset(64)] public long Blocks;
}
