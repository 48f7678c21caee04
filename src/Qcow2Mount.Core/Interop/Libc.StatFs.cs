using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

internal static partial class Libc
{
    /// <summary>
    /// <c>int statfs(const char*, struct statfs*)</c>; the struct starts with <c>f_type</c> (a long) on every 64-bit
    /// Linux ABI, and 256 bytes hold all of it.
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "statfs", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static unsafe partial int StatFs(string path, void* buffer);
}
