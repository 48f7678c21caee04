using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Qcow2Mount.WinFsp.Interop;

/// <summary>
/// The exports of winfsp-x64.dll the shim calls (C convention, UTF-16 strings). The library name is logical:
/// <see cref="WinFspLibrary"/> maps it to the DLL found through WinFsp's registry key.
/// </summary>
internal static unsafe partial class WinFspNative
{
    internal const string LibraryName = "winfsp";

    [LibraryImport(LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int FspVersion(uint* version);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf16)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int FspFileSystemCreate(string devicePath, VolumeParams* volumeParams, FileSystemInterface* fileSystemInterface, nint* fileSystem);

    [LibraryImport(LibraryName, StringMarshalling = StringMarshalling.Utf16)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int FspFileSystemSetMountPoint(nint fileSystem, string? mountPoint);

    [LibraryImport(LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial char* FspFileSystemMountPointF(nint fileSystem);

    [LibraryImport(LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial int FspFileSystemStartDispatcher(nint fileSystem, uint threadCount);

    [LibraryImport(LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void FspFileSystemStopDispatcher(nint fileSystem);

    [LibraryImport(LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void FspFileSystemRemoveMountPoint(nint fileSystem);

    [LibraryImport(LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial void FspFileSystemDelete(nint fileSystem);

    /// <summary>Appends one DIR_INFO (or, for NULL, the end marker) to a ReadDirectory buffer; 0 = no room left.</summary>
    [LibraryImport(LibraryName)]
    [UnmanagedCallConv(CallConvs = [typeof(CallConvCdecl)])]
    internal static partial byte FspFileSystemAddDirInfo(DirInfo* dirInfo, void* buffer, uint length, uint* bytesTransferred);
}
