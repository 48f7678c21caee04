using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core.Interop;

namespace Qcow2Mount.Core.Platform;

/// <summary>
/// Windows (NTFS, ReFS): FSCTL_SET_SPARSE on new files, FSCTL_SET_ZERO_DATA to punch and zero (it deallocates on a
/// sparse file and writes zeros on another), GetCompressedFileSizeW for the allocated size,
/// FSCTL_QUERY_ALLOCATED_RANGES for extents. A file system without them (FAT) gets the plain answers.
/// </summary>
[SupportedOSPlatform("windows")]
internal sealed class WindowsFileSpace : IFileSpace
{
    public bool PunchHole(SafeFileHandle file, long offset, long length) => SetZeroData(file, offset, offset + length);

    /// <summary>Truncation to zero, then the length (FSCTL_SET_ZERO_DATA would write zeros over a file that is not sparse).</summary>
    public void Reset(SafeFileHandle file, long length)
    {
        RandomAccess.SetLength(file, 0);
        RandomAccess.SetLength(file, length);
    }

    /// <summary>FSCTL_SET_ZERO_DATA does not grow a file: zero the part inside the file, then extend it (new bytes read as zeros).</summary>
    public bool ZeroRange(SafeFileHandle file, long offset, long length)
    {
        long fileLength = RandomAccess.GetLength(file);
        long end = offset + length;
        if (offset < fileLength && !SetZeroData(file, offset, Math.Min(end, fileLength)))
        {
            return false;
        }

        if (end > fileLength)
        {
            RandomAccess.SetLength(file, end);
        }

        return true;
    }

    /// <summary>Windows cannot read from its cache only: nothing is read, and the caller reads as usual.</summary>
    public int ReadCached(SafeFileHandle file, Span<byte> buffer, long offset) => 0;

    /// <summary>FlushFileBuffers (Windows has no data-only flush for ordinary handles).</summary>
    public void SyncData(SafeFileHandle file, string name) => RandomAccess.FlushToDisk(file);

    /// <summary>Windows has no asynchronous flush of a file's cached writes: the cache manager's lazy writer does it.</summary>
    public void StartWriteBack(SafeFileHandle file)
    {
    }

    public unsafe void MarkSparse(SafeFileHandle file) =>
        _ = Kernel32.DeviceIoControl(file, Kernel32.FSCTL_SET_SPARSE, null, 0, null, 0, out _, 0);

    public long? AllocatedBytes(string path)
    {
        uint low = Kernel32.GetCompressedFileSizeW(path, out uint high);
        if (low == Kernel32.INVALID_FILE_SIZE && Marshal.GetLastPInvokeError() != 0)
        {
            return null;
        }

        return (long)(((ulong)high << 32) | low);
    }

    /// <summary>Asks for the first allocated range in [offset, offset + maxLength): before it a hole, in it data.</summary>
    public unsafe FileExtent Extent(SafeFileHandle file, long offset, long maxLength)
    {
        var query = new FileRange { Offset = offset, Second = Math.Min(maxLength, Math.Max(RandomAccess.GetLength(file) - offset, 1)) };
        FileRange first;
        bool ok = Kernel32.DeviceIoControl(file, Kernel32.FSCTL_QUERY_ALLOCATED_RANGES, &query, (uint)sizeof(FileRange), &first, (uint)sizeof(FileRange), out uint returned, 0);
        if (!ok && Marshal.GetLastPInvokeError() != Kernel32.ERROR_MORE_DATA)
        {
            return new FileExtent(true, maxLength); // not NTFS/ReFS: no holes known
        }

        if (returned < sizeof(FileRange))
        {
            return new FileExtent(false, maxLength);
        }

        if (first.Offset > offset)
        {
            return new FileExtent(false, Math.Min(maxLength, first.Offset - offset));
        }

        return new FileExtent(true, Math.Min(maxLength, first.Offset + first.Second - offset));
    }

    private static unsafe bool SetZeroData(SafeFileHandle file, long offset, long end)
    {
        var range = new FileRange { Offset = offset, Second = end };
        return Kernel32.DeviceIoControl(file, Kernel32.FSCTL_SET_ZERO_DATA, &range, (uint)sizeof(FileRange), null, 0, out _, 0);
    }
}
