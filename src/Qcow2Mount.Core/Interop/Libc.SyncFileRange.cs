using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Core.Interop;

internal static partial class Libc
{
    /// <summary>sync_file_range(2) flag: start writing the range's dirty pages out, without waiting for them.</summary>
    internal const uint SYNC_FILE_RANGE_WRITE = 0x2;

    /// <summary>
    /// <c>int sync_file_range(int, off64_t, off64_t nbytes, unsigned int flags)</c> (nbytes 0: to the end of the file):
    /// 0, or −1 with errno. Syncs nothing durably (no block map, no device cache): only a writeback hint.
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "sync_file_range", SetLastError = true)]
    internal static partial int SyncFileRange(SafeFileHandle fd, long offset, long length, uint flags);
}
