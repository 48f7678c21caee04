using System.Runtime.InteropServices;

namespace Qcow2Mount.WinFsp.Interop;

/// <summary>
/// The 104-byte header of FSP_FSCTL_DIR_INFO; the UTF-16 name (not NUL-terminated) follows it and
/// <see cref="Size"/> counts header plus name bytes. The 24-byte union at 80 (NextOffset/padding) must be zero.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct DirInfo
{
    public const int HeaderSize = 104;

    public ushort Size;
    public FspFileInfo FileInfo;
    public fixed byte Padding[24];
}
