using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

internal static partial class Zstd
{
    /// <summary><c>const char* ZSTD_getErrorName(size_t)</c>: a static string (never freed).</summary>
    [LibraryImport(LibraryName, EntryPoint = "ZSTD_getErrorName")]
    internal static partial IntPtr GetErrorName(nuint code);
}
