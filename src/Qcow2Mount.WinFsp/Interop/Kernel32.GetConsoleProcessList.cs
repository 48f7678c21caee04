using System.Runtime.InteropServices;

namespace Qcow2Mount.WinFsp.Interop;

internal static unsafe partial class Kernel32
{
    /// <summary>The processes attached to this process's console (0 without a console); 1 means the console is ours alone.</summary>
    [LibraryImport(LibraryName)]
    internal static partial uint GetConsoleProcessList(uint* processIds, uint count);
}
