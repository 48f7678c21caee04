using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libc
{
    /// <summary><c>ssize_t write(int, const void*, size_t)</c>: on /dev/fuse, exactly one reply per call.</summary>
    [LibraryImport(LibraryName, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, void* buffer, nuint count);
}
