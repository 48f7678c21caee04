namespace Qcow2Mount.Core.Interop;

/// <summary>
/// The kernel32 functions the engine calls on Windows, one per file (<c>Kernel32.DeviceIoControl.cs</c>, …), with the
/// constants of Windows' public headers (winioctl.h, winerror.h). Windows only: callers are the Windows platform types.
/// </summary>
internal static partial class Kernel32
{
    internal const string LibraryName = "kernel32.dll";

    /// <summary>CTL_CODE(FILE_DEVICE_FILE_SYSTEM = 9, function, method, access) = 9 &lt;&lt; 16 | access &lt;&lt; 14 | function &lt;&lt; 2 | method.</summary>
    internal const uint FSCTL_SET_SPARSE = 0x000900C4;            // function 49, METHOD_BUFFERED, FILE_SPECIAL_ACCESS
    internal const uint FSCTL_SET_ZERO_DATA = 0x000980C8;         // function 50, METHOD_BUFFERED, FILE_WRITE_DATA
    internal const uint FSCTL_QUERY_ALLOCATED_RANGES = 0x000940CF; // function 51, METHOD_NEITHER, FILE_READ_DATA

    internal const int ERROR_SHARING_VIOLATION = 32;
    internal const int ERROR_LOCK_VIOLATION = 33;
    internal const int ERROR_MORE_DATA = 234;

    /// <summary>GetCompressedFileSizeW's failure value (then GetLastError is not 0).</summary>
    internal const uint INVALID_FILE_SIZE = 0xFFFFFFFF;
}
