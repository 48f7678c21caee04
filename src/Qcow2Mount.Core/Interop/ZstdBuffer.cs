namespace Qcow2Mount.Core.Interop;

/// <summary>
/// zstd.h's <c>ZSTD_inBuffer</c> and <c>ZSTD_outBuffer</c> (the same layout: pointer, size, position): the streaming
/// decompressor advances <see cref="Pos"/> as it consumes input or produces output.
/// </summary>
internal unsafe struct ZstdBuffer
{
    public byte* Data;
    public nuint Size;
    public nuint Pos;
}
