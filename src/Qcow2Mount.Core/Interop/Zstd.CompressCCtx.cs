using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

internal static partial class Zstd
{
    /// <summary>
    /// <c>size_t ZSTD_compressCCtx(ZSTD_CCtx*, void* dst, size_t dstCapacity, const void* src, size_t srcSize, int level)</c>:
    /// one frame with the content size in its header and no checksum (the defaults), or an error code (<see cref="IsError"/>).
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "ZSTD_compressCCtx")]
    internal static unsafe partial nuint CompressCCtx(ZstdCompressionContext cctx, byte* dst, nuint dstCapacity, byte* src, nuint srcSize, int level);
}
