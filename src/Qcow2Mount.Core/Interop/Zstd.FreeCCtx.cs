using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

internal static partial class Zstd
{
    /// <summary><c>size_t ZSTD_freeCCtx(ZSTD_CCtx*)</c>.</summary>
    [LibraryImport(LibraryName, EntryPoint = "ZSTD_freeCCtx")]
    internal static partial nuint FreeCCtx(IntPtr cctx);
}
