using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

/// <summary>glibc <c>struct stat</c> on x86_64 (144 bytes; fuse-notes §3).</summary>
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
    [FieldOffset(72)] public Timespec ATime;
    [FieldOffset(88)] public Timespec MTime;
    [FieldOffset(104)] public Timespec CTime;
}
