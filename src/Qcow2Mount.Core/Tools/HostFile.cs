using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core.Platform;

namespace Qcow2Mount.Core.Tools;

/// <summary>What the host file system says about an image file (<see cref="IFileSpace"/>): allocated bytes and holes.</summary>
public static class HostFile
{
    /// <summary>Bytes the file occupies on disk (qemu-img info's "disk size"); the length where this cannot be asked.</summary>
    public static long AllocatedBytes(string path) => HostPlatform.Space.AllocatedBytes(path) ?? new FileInfo(path).Length;

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

        var extent = HostPlatform.Space.Extent(handle, offset, maxLength);
        return (extent.IsData, extent.IsData ? Math.Min(extent.Length, fileLength - offset) : extent.Length);
    }
}
