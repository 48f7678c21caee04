using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libc
{
    /// <summary><c>int sched_setaffinity(pid_t, size_t, const cpu_set_t*)</c>; pid 0 = the calling thread (an io_uring queue's CPU).</summary>
    [LibraryImport(LibraryName, EntryPoint = "sched_setaffinity", SetLastError = true)]
    public static partial int SchedSetAffinity(int pid, nuint size, ulong* mask);
}
