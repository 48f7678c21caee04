using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

internal static partial class Zstd
{
    /// <summary>
    /// <c>size_t ZSTD_decompressStream(ZSTD_DStream*, ZSTD_outBuffer*, ZSTD_inBuffer*)</c>: decodes as much as the buffers
    /// allow, across frame boundaries, advancing both positions; 0 when a frame has just ended, else a hint or an error code.
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "ZSTD_decompressStream")]
    internal static unsafe partial nuint DecompressStream(ZstdDecompressionContext dctx, ZstdBuffer* output, ZstdBuffer* input);
}
