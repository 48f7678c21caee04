using System.Runtime.InteropServices;

namespace Qcow2Mount.WinFsp.Interop;

internal static partial class Advapi32
{
    [LibraryImport(LibraryName)]
    internal static partial int RegCloseKey(nint key);
}
