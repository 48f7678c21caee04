using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Core.Interop;

internal static partial class Libc
{
    /// <summary><c>int fstat(int, struct stat*)</c>: <see cref="Stat"/> of an open file.</summary>
    [LibraryImport(LibraryName, EntryPoint = "fstat", SetLastError = true)]
    internal static unsafe partial int FStat(SafeFileHandle fd, void* buffer);
}
