using System.Runtime.InteropServices;

namespace Qcow2Mount.WinFsp.Interop;

internal static unsafe partial class Advapi32
{
    [LibraryImport(LibraryName, EntryPoint = "RegGetValueW", StringMarshalling = StringMarshalling.Utf16)]
    internal static partial int RegGetValue(nint key, string? subKey, string value, uint flags, out uint type, void* data, ref uint dataBytes);
}
