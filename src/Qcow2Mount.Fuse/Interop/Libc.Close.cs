using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static partial class Libc
{
    [LibraryImport(LibraryName, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);
}
