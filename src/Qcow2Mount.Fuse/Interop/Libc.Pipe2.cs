using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libc
{
    public const int O_CLOEXEC = 0x80000;

    /// <summary><c>int pipe2(int[2], int flags)</c>: 0, or −1 with errno.</summary>
    [LibraryImport(LibraryName, EntryPoint = "pipe2", SetLastError = true)]
    public static partial int Pipe2(int* fds, int flags);
}
