using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Core.Interop;

internal static partial class Libc
{
    /// <summary>fallocate(2) mode bits (linux/falloc.h).</summary>
    internal const int FALLOC_FL_KEEP_SIZE = 0x01, FALLOC_FL_PUNCH_HOLE = 0x02, FALLOC_FL_ZERO_RANGE = 0x10;

    /// <summary><c>int fallocate(int, int mode, off_t, off_t)</c>: 0, or −1 with errno (EOPNOTSUPP where the file system lacks the mode).</summary>
    [LibraryImport(LibraryName, EntryPoint = "fallocate", SetLastError = true)]
    internal static partial int Fallocate(SafeFileHandle fd, int mode, long offset, long length);
}
