using System.Runtime.InteropServices;

namespace Qcow2Mount.WinFsp.Interop;

internal static unsafe partial class Kernel32
{
    /// <summary>Adds (add != 0) or removes a HandlerRoutine; handlers run newest first on a thread the system makes.</summary>
    [LibraryImport(LibraryName, SetLastError = true)]
    internal static partial int SetConsoleCtrlHandler(delegate* unmanaged<uint, int> handler, int add);
}
