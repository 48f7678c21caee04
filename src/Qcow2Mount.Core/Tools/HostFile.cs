using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core.Interop;

namespace Qcow2Mount.Core.Tools;

/// <summary>What the host file system says about an image file: allocated bytes (st_blocks) and holes (SEEK_DATA/SEEK_HOLE).</summary>
public static class HostFile
{
    /// <summary>Bytes the file occupies on disk (qemu-img info's "disk size"); the length where this cannot be asked.</summary>
    public static long AllocatedBytes(string path)
    {
        if (OperatingSystem.IsLinux() && FileStatus.Get(path, followLinks: true, out var status) == 0)
        {
            return status.AllocatedBytes;
        }

        return new FileInfo(path).Length;
    }

    /// <summary>
    /// Whether [offset, …) starts with data or a hole, and how long that extent is (at most <paramref name="maxLength"/>).
    /// Without hole support everything is data.
    /// </summary>
    public static (bool IsData, long Length) Extent(SafeFileHandle handle, long offset, long maxLength)
    {
        long fileLength = RandomAccess.GetLength(handle);
        if (offset >= fileLength)
        {
            return (false, maxLength);
        }

        if (!OperatingSystem.IsLinux())
        {
            return (true, Math.Min(maxLength, fileLength - offset));
        }

        long data = Libc.LSeek(handle, offset, Libc.SEEK_DATA);
        if (data < 0)
        {
            // ENXIO: no data at or after offset.
            return Marshal.GetLastPInvokeError() == 6 ? (false, maxLength) : (true, Math.Min(maxLength, fileLength - offset));
        }

        if (data > offset)
        {
            return (false, Math.Min(maxLength, data - offset));
        }

        long hole = Libc.LSeek(handle, offset, Libc.SEEK_HOLE);
        long end = hole < 0 ? fileLength : hole;
        return (true, Math.Min(maxLength, end - offset));
    }
}
