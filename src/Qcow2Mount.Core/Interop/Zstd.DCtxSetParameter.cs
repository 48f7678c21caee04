using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

internal static partial class Zstd
{
    /// <summary><c>size_t ZSTD_DCtx_setParameter(ZSTD_DCtx*, ZSTD_dParameter, int value)</c>: 0 or an error code.</summary>
    [LibraryImport(LibraryName, EntryPoint = "ZSTD_DCtx_setParameter")]
    internal static partial nuint DCtxSetParameter(ZstdDecompressionContext dctx, int parameter, int value);
}
