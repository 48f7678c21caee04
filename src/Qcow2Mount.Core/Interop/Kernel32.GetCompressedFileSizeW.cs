using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

internal static partial class Kernel32
{
    /// <summary>
    /// <c>DWORD GetCompressedFileSizeW(LPCWSTR, LPDWORD high)</c>: the bytes a file occupies on disk (sparse and compressed
    /// files count only what is allocated); <see cref="INVALID_FILE_SIZE"/> with GetLastError set on failure.
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "GetCompressedFileSizeW", StringMarshalling = StringMarshalling.Utf16, SetLastError = true)]
    internal static partial uint GetCompressedFileSizeW(string path, out uint high);
}
