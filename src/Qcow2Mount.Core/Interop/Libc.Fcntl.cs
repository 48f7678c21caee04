using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Core.Interop;

internal static partial class Libc
{
    /// <summary>Open-file-description lock commands (the same on x86_64 and aarch64).</summary>
    internal const int F_OFD_GETLK = 36, F_OFD_SETLK = 37;

    /// <summary><c>int fcntl(int, int cmd, struct flock*)</c> for the lock commands: 0, or −1 with errno.</summary>
    [LibraryImport(LibraryName, EntryPoint = "fcntl", SetLastError = true)]
    internal static unsafe partial int Fcntl(SafeFileHandle fd, int command, Flock* flock);
}
