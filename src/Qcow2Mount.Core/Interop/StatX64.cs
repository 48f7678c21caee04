using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

/// <summary>glibc <c>struct stat</c> on x86_64 (144 bytes; fuse-notes §3). The times (72, 88, 104) are not read.</summary>
[StructLayout(LayoutKind.Explicit, Size = 144)]
internal struct StatX64
{
    [FieldOffset(0)] public ulong Dev;
    [FieldOffset(8)] public ulong Ino;
    [FieldOffset(16)] public ulong NLink;
    [FieldOffset(24)] public uint Mode;
    [FieldOffset(28)] public uint Uid;
    [FieldOffset(32)] public uint Gid;
    [FieldOffset(40)] public ulong RDev;
    [FieldOffset(48)] public long Size;
    [FieldOffset(56)] public long BlkSize;
    [FieldOffset(64)] public long Blocks;
}
