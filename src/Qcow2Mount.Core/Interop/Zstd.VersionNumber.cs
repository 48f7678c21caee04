using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

internal static partial class Zstd
{
    /// <summary><c>unsigned ZSTD_versionNumber(void)</c>: MAJOR*10000 + MINOR*100 + RELEASE; the first call loads the library.</summary>
    [LibraryImport(LibraryName, EntryPoint = "ZSTD_versionNumber")]
    internal static partial uint VersionNumber();
}
