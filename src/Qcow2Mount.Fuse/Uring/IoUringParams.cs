using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Uring;

/// <summary>
/// <c>struct io_uring_params</c> (linux/io_uring.h, 120 bytes) with its <c>io_sqring_offsets</c> and
/// <c>io_cqring_offsets</c> flattened: what io_uring_setup(2) reads (sizes, flags) and fills in (features, offsets of
/// the ring fields inside the mmap'ed rings).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 120)]
internal struct IoUringParams
{
    [FieldOffset(0)] public uint SqEntries;
    [FieldOffset(4)] public uint CqEntries;
    [FieldOffset(8)] public uint Flags;
    [FieldOffset(20)] public uint Features;

    [FieldOffset(40)] public uint SqHead;
    [FieldOffset(44)] public uint SqTail;
    [FieldOffset(48)] public uint SqRingMask;
    [FieldOffset(52)] public uint SqRingEntries;
    [FieldOffset(64)] public uint SqArray;

    [FieldOffset(80)] public uint CqHead;
    [FieldOffset(84)] public uint CqTail;
    [FieldOffset(88)] public uint CqRingMask;
    [FieldOffset(92)] public uint CqRingEntries;
    [FieldOffset(100)] public uint Cqes;
}
