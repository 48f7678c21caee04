using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libc
{
    /// <summary><c>pid_t waitpid(pid_t, int* status, int options)</c>: the pid, or −1 with errno.</summary>
    [LibraryImport(LibraryName, EntryPoint = "waitpid", SetLastError = true)]
    public static partial int WaitPid(int pid, out int status, int options);
}
