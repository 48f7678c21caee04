using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Core.Tools.BlockStatus;

/// <summary>
/// QEMU's file-posix block status for a host file, with the generic layer's rules: SEEK_DATA/SEEK_HOLE decide data
/// or zero, every answer is allocated and carries a host offset, nothing is answered at or past the end of the file.
/// QEMU sees every file as a whole number of 512-byte sectors: the last partial sector is completed with a hole.
/// </summary>
internal static class HostFileStatus
{
    /// <summary>Status of [offset, offset + bytes) in <paramref name="handle"/>: (Eof, 0) at or past the end of the file.</summary>
    public static (QemuStatus Flags, long Length) Get(SafeFileHandle handle, long offset, long bytes)
    {
        long length = SectorAligned(RandomAccess.GetLength(handle));
        if (offset >= length)
        {
            return (QemuStatus.Eof, 0);
        }

        bytes = Math.Min(bytes, length - offset);
        var (isData, n) = HostFile.Extent(handle, offset, bytes);
        n = Math.Clamp(n, 1, bytes);
        var flags = (isData ? QemuStatus.Data : QemuStatus.Zero) | QemuStatus.OffsetValid | QemuStatus.Allocated;
        if (offset + n == length)
        {
            flags |= QemuStatus.Eof;
        }

        return (flags, n);
    }

    /// <summary>A length as QEMU's block layer reports it: rounded up to whole 512-byte sectors.</summary>
    public static long SectorAligned(long length) => (length + 511) / 512 * 512;
}
