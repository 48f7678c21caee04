using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libc
{
    /// <summary><c>int munmap(void*, size_t)</c>.</summary>
    [LibraryImport(LibraryName, EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(void* address, nuint length);
}
