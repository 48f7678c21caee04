using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libc
{
    public const int SIGKILL = 9;

    /// <summary><c>int kill(pid_t, int signal)</c>: 0, or −1 with errno.</summary>
    [LibraryImport(LibraryName, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);
}
