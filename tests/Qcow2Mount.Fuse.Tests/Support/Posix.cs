using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Fuse.Tests.Support;

/// <summary>lseek(2) with SEEK_DATA/SEEK_HOLE, which .NET does not expose.</summary>
internal static partial class Posix
{
    public const int SeekData = 3;
    public const int SeekHole = 4;

    /// <summary>Returns the offset, or −errno.</summary>
    public static long Seek(SafeFileHandle handle, long offset, int whence)
    {
        long result = LSeek(handle, offset, whence);
        return result >= 0 ? result : -Marshal.GetLastPInvokeError();
    }

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(SafeFileHandle fd, long offset, int whence);
}
