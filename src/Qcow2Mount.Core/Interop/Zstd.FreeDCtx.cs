using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

internal static partial class Zstd
{
    /// <summary><c>size_t ZSTD_freeDCtx(ZSTD_DCtx*)</c>.</summary>
    [LibraryImport(LibraryName, EntryPoint = "ZSTD_freeDCtx")]
    internal static partial nuint FreeDCtx(IntPtr dctx);
}
