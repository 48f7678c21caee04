using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libc
{
    public const int SIG_BLOCK = 0;

    /// <summary>
    /// <c>int pthread_sigmask(int how, const sigset_t*, sigset_t* old)</c> for the calling thread; threads it starts
    /// afterwards inherit the mask. Returns 0 or an error number (not errno).
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "pthread_sigmask")]
    public static partial int PthreadSigmask(int how, SigSet* set, SigSet* old);
}
