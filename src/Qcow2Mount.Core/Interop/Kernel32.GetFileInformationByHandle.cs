using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Core.Interop;

internal static partial class Kernel32
{
    /// <summary><c>BOOL GetFileInformationByHandle(HANDLE, LPBY_HANDLE_FILE_INFORMATION)</c>: the volume serial number and file index (a file's identity).</summary>
    [LibraryImport(LibraryName, EntryPoint = "GetFileInformationByHandle", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    internal static unsafe partial bool GetFileInformationByHandle(SafeFileHandle file, ByHandleFileInformation* information);
}
