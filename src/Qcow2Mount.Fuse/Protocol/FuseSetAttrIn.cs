using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Protocol;

/// <summary><c>struct fuse_setattr_in</c> (88 bytes); <see cref="Valid"/> holds the FATTR_* bits of the fields to change.</summary>
[StructLayout(LayoutKind.Sequential, Size = 88)]
internal struct FuseSetAttrIn
{
    public const uint Mode = 1 << 0, Uid = 1 << 1, Gid = 1 << 2, Size = 1 << 3, ATime = 1 << 4, MTime = 1 << 5;

    /// <summary>With <see cref="ATime"/> / <see cref="MTime"/>: set that time to now (touch without -d, UTIME_NOW).</summary>
    public const uint ATimeNow = 1 << 7, MTimeNow = 1 << 8;

    public uint Valid;
    public uint Padding;
    public ulong Fh;
    public ulong NewSize;
    public ulong LockOwner;
    public ulong ATimeSeconds;
    public ulong MTimeSeconds;
    public ulong CTimeSeconds;
    public uint ATimeNanoseconds;
    public uint MTimeNanoseconds;
    public uint CTimeNanoseconds;
    public uint NewMode;
    public uint Unused4;
    public uint NewUid;
    public uint NewGid;
    public uint Unused5;
}
