using System.Runtime.InteropServices;

namespace Qcow2Mount.WinFsp.Interop;

/// <summary>
/// The start of FSP_FILE_SYSTEM (792 bytes on 64-bit, allocated by WinFsp): the only part the shim touches is
/// <see cref="UserContext"/>, the pointer-sized slot at offset <c>sizeof(void*)</c> that WinFsp leaves to the file system.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FileSystemHeader
{
    /// <summary>sizeof(FSP_FILE_SYSTEM) on 64-bit processes.</summary>
    public const int Size64 = 792;

    public ushort Version;
    public nint UserContext;
}
