using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

/// <summary><c>struct fuse_file_info</c> (40 bytes). Flag bits live in the word at offset 4 (fuse-notes §2).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseFileInfo
{
    public const uint DirectIo = 0x2;
    public const uint KeepCache = 0x4;

    /// <summary>The open(2) flags.</summary>
    public int Flags;
    public uint Bits;
    public uint Padding2;

    /// <summary>Our handle: index of the image file + 1 (0 = none).</summary>
    public ulong Fh;
    public ulong LockOwner;
    public uint PollEvents;
}
