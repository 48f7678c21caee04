using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

internal static partial class Zstd
{
    /// <summary><c>unsigned ZSTD_isError(size_t)</c>: non-zero when a returned size is an error code.</summary>
    [LibraryImport(LibraryName, EntryPoint = "ZSTD_isError")]
    internal static partial uint IsError(nuint code);
}
