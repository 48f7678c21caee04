using System.Runtime.InteropServices;

namespace Qcow2Mount.WinFsp.Interop;

internal static partial class Advapi32
{
    [LibraryImport(LibraryName, EntryPoint = "RegOpenKeyExW", StringMarshalling = StringMarshalling.Utf16)]
    internal static partial int RegOpenKeyEx(nint key, string subKey, uint options, uint desired, out nint result);
}
