using System.Reflection;
using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

/// <summary>
/// The libzstd functions the zstd codec calls (<see cref="Platform.NativeZstdCodec"/>), one per file (<c>Zstd.CompressCCtx.cs</c>,
/// …), with the constants of zstd.h's stable API. Linux only, and only where the system library (Debian: libzstd1)
/// loads; elsewhere the managed port is used (<see cref="Qcow2.ZstdCodec"/>). The library is opened by its soname
/// with the system's search only (<see cref="TryLoad"/>: never a libzstd.so.1 lying beside the program, which the
/// runtime's own probing would try first), and the imports' name resolves to that handle.
/// </summary>
internal static partial class Zstd
{
    /// <summary>The name every <c>[LibraryImport]</c> in this class uses; resolved to the handle <see cref="TryLoad"/> opened.</summary>
    internal const string LibraryName = "zstd";

    /// <summary>The soname of libzstd 1.x (Debian: libzstd1).</summary>
    internal const string Soname = "libzstd.so.1";

    /// <summary>ZSTD_d_windowLogMax (enum ZSTD_dParameter).</summary>
    internal const int ZSTD_d_windowLogMax = 100;

    /// <summary>ZSTD_reset_session_only (enum ZSTD_ResetDirective): ends the frame in progress, keeps the parameters.</summary>
    internal const int ZSTD_reset_session_only = 1;

    /// <summary>ZSTD_versionNumber of 1.4.0, the first release with ZSTD_DCtx_setParameter and ZSTD_DCtx_reset in the stable API.</summary>
    internal const uint MinimumVersion = 10400;

    private static nint s_handle;

    /// <summary>
    /// Opens <see cref="Soname"/> and points the imports at it; false when it does not load. Called once per process
    /// (the codec's choice is made once); it installs Qcow2Mount.Core's one import resolver.
    /// </summary>
    internal static bool TryLoad()
    {
        if (!NativeLibrary.TryLoad(Soname, out nint handle))
        {
            return false;
        }

        s_handle = handle;
        NativeLibrary.SetDllImportResolver(typeof(Zstd).Assembly, Resolve);
        return true;
    }

    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == LibraryName ? s_handle : 0;
}
