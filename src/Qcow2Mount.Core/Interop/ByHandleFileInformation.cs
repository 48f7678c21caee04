using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

/// <summary>
/// <c>BY_HANDLE_FILE_INFORMATION</c> (fileapi.h, 52 bytes: DWORD attributes, three FILETIMEs of two DWORDs, then
/// DWORDs). Only the identity fields are read.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 52)]
internal struct ByHandleFileInformation
{
    [FieldOffset(0)] public uint FileAttributes;
    [FieldOffset(28)] public uint VolumeSerialNumber;
    [FieldOffset(32)] public uint FileSizeHigh;
    [FieldOffset(36)] public uint FileSizeLow;
    [FieldOffset(40)] public uint NumberOfLinks;
    [FieldOffset(44)] public uint FileIndexHigh;
    [FieldOffset(48)] public uint FileIndexLow;
}
