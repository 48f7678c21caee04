using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

internal static partial class Zstd
{
    /// <summary><c>size_t ZSTD_DCtx_reset(ZSTD_DCtx*, ZSTD_ResetDirective)</c>: 0 or an error code.</summary>
    [LibraryImport(LibraryName, EntryPoint = "ZSTD_DCtx_reset")]
    internal static partial nuint DCtxReset(ZstdDecompressionContext dctx, int directive);
}
