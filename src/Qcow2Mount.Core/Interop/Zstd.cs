namespace Qcow2Mount.Core.Interop;

/// <summary>
/// The libzstd functions the zstd codec calls (<see cref="Qcow2.NativeZstdCodec"/>), one per file (<c>Zstd.CompressCCtx.cs</c>,
/// …), with the constants of zstd.h's stable API. Linux only, and only where the system library (Debian: libzstd1)
/// loads; elsewhere the managed port is used (<see cref="Qcow2.ZstdCodec"/>).
/// </summary>
internal static partial class Zstd
{
    internal const string LibraryName = "libzstd.so.1";

    /// <summary>ZSTD_CLEVEL_DEFAULT: the level QEMU compresses clusters with (it sets no parameter).</summary>
    internal const int DefaultLevel = 3;

    /// <summary>ZSTD_d_windowLogMax (enum ZSTD_dParameter).</summary>
    internal const int ZSTD_d_windowLogMax = 100;

    /// <summary>ZSTD_reset_session_only (enum ZSTD_ResetDirective): ends the frame in progress, keeps the parameters.</summary>
    internal const int ZSTD_reset_session_only = 1;

    /// <summary>ZSTD_versionNumber of 1.4.0, the first release with ZSTD_DCtx_setParameter and ZSTD_DCtx_reset in the stable API.</summary>
    internal const uint MinimumVersion = 10400;
}
