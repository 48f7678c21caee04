using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

internal static partial class Zstd
{
    /// <summary><c>ZSTD_DCtx* ZSTD_createDCtx(void)</c>; invalid (NULL) when out of memory.</summary>
    [LibraryImport(LibraryName, EntryPoint = "ZSTD_createDCtx")]
    internal static partial ZstdDecompressionContext CreateDCtx();
}
