using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Core.Interop;

internal static partial class Libc
{
    /// <summary>lseek whence values for holes (the same on x86_64 and aarch64).</summary>
    internal const int SEEK_DATA = 3, SEEK_HOLE = 4;

    /// <summary><c>off_t lseek(int, off_t, int)</c>: −1 with errno ENXIO when no data (or hole) follows the offset.</summary>
    [LibraryImport(LibraryName, EntryPoint = "lseek", SetLastError = true)]
    internal static partial long LSeek(SafeFileHandle fd, long offset, int whence);
}
