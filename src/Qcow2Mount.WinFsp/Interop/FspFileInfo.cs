using System.Runtime.InteropServices;

namespace Qcow2Mount.WinFsp.Interop;

/// <summary>FSP_FSCTL_FILE_INFO: 72 bytes; times are FILETIME (100 ns since 1601 UTC).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FspFileInfo
{
    public const int Size = 72;

    public uint FileAttributes;
    public uint ReparseTag;
    public ulong AllocationSize;
    public ulong FileSize;
    public ulong CreationTime;
    public ulong LastAccessTime;
    public ulong LastWriteTime;
    public ulong ChangeTime;
    public ulong IndexNumber;
    public uint HardLinks;
    public uint EaSize;
}
