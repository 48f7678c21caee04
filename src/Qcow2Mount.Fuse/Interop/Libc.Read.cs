using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libc
{
    /// <summary><c>ssize_t read(int, void*, size_t)</c>: on /dev/fuse, exactly one request per call.</summary>
    [LibraryImport(LibraryName, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, void* buffer, nuint count);
}
