using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Core.Tools;

/// <summary>What the host file system says about an image file: allocated bytes (st_blocks) and holes (SEEK_DATA/SEEK_HOLE).</summary>
public static partial class HostFile
{
    private const int SeekData = 3;
    private const int SeekHole = 4;

    /// <summary>Bytes the file occupies on disk (qemu-img info's "disk size"); the length where this cannot be asked.</summary>
    public static long AllocatedBytes(string path)
    {
        if (OperatingSystem.IsLinux())
        {
            Span<byte> buffer = stackalloc byte[256];
            if (Stat(path, ref MemoryMarshal.GetReference(buffer)) == 0)
            {
                // st_blocks (512-byte units) is at offset 64 on both x86_64 and aarch64.
                return MemoryMarshal.Read<long>(buffer[64..]) * 512;
            }
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

        long data = Lseek(handle, offset, SeekData);
        if (data < 0)
        {
            // ENXIO: no data at or after offset.
            return Marshal.GetLastPInvokeError() == 6 ? (false, maxLength) : (true, Math.Min(maxLength, fileLength - offset));
        }

        if (data > offset)
        {
            return (false, Math.Min(maxLength, data - offset));
        }

        long hole = Lseek(handle, offset, SeekHole);
        long end = hole < 0 ? fileLength : hole;
        return (true, Math.Min(maxLength, end - offset));
    }

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Stat(string path, ref byte buffer);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long Lseek(SafeFileHandle fd, long offset, int whence);
}
