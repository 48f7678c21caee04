using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Qcow2Mount.WinFsp.Interop;

internal static unsafe partial class WinFspNative
{
    /// <summary>Appends one DIR_INFO (or, for NULL, the end marker) to a ReadDirectory buffer; 0 = no room left.</summary>
    [LibraryImport(LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte FspFileSystemAddDirInfo(DirInfo* dirInfo, void* buffer, uint length, uint* bytesTransferred);
}
