using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Core.Interop;

internal static partial class Libc
{
    /// <summary>
    /// <c>int fdatasync(int)</c>: the file's data and the metadata needed to read it back (its size, its block map) on
    /// stable storage, without the timestamps fsync also writes; 0, or −1 with errno (EIO, ENOSPC, EINTR, EROFS).
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "fdatasync", SetLastError = true)]
    internal static partial int FDataSync(SafeFileHandle fd);
}
