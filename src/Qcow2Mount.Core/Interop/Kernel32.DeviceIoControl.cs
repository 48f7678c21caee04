using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Core.Interop;

internal static partial class Kernel32
{
    /// <summary>
    /// <c>BOOL DeviceIoControl(HANDLE, DWORD code, LPVOID in, DWORD inSize, LPVOID out, DWORD outSize, LPDWORD returned,
    /// LPOVERLAPPED)</c>, synchronous (overlapped NULL): the FSCTL_* requests of the Windows platform types.
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "DeviceIoControl", SetLastError = true)]
    [return: MarshalAs(UnmanagedType.Bool)]
    internal static unsafe partial bool DeviceIoControl(SafeFileHandle device, uint code, void* input, uint inputSize, void* output, uint outputSize, out uint returned, nint overlapped);
}
