using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Qcow2Mount.WinFsp.Interop;

internal static unsafe partial class WinFspNative
{
    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf16)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int FspFileSystemSetMountPoint(nint fileSystem, string? mountPoint);
}
