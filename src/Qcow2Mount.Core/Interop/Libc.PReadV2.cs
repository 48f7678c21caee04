using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Core.Interop;

internal static partial class Libc
{
    /// <summary>preadv2(2) flag: read only what is in the page cache; EAGAIN (or a short read) instead of waiting for the disk.</summary>
    internal const int RWF_NOWAIT = 0x8;

    /// <summary>
    /// <c>ssize_t preadv2(int, const struct iovec *, int iovcnt, off_t, int flags)</c>: bytes read (short when the
    /// cache holds only the start), or −1 with errno (EAGAIN: none of it cached; EOPNOTSUPP: no RWF_NOWAIT here).
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "preadv2", SetLastError = true)]
    internal static unsafe partial nint PReadV2(SafeFileHandle fd, IoVector* vectors, int count, long offset, int flags);
}
