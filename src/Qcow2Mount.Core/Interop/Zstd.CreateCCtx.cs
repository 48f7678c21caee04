using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

internal static partial class Zstd
{
    /// <summary><c>ZSTD_CCtx* ZSTD_createCCtx(void)</c>; invalid (NULL) when out of memory.</summary>
    [LibraryImport(LibraryName, EntryPoint = "ZSTD_createCCtx")]
    internal static partial ZstdCompressionContext CreateCCtx();
}
