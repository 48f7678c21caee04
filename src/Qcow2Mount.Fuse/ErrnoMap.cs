using Qcow2Mount.Core.Errors;
using Qcow2Mount.Fuse.Interop;

namespace Qcow2Mount.Fuse;

/// <summary>
/// The only place where exceptions become errno values. I/O failures the caller cannot explain from the errno alone
/// (EIO) are logged with the file and guest offset, so one bad cluster is visible in the server's log.
/// </summary>
internal static class ErrnoMap
{
    /// <summary>HRESULT of Windows ERROR_DISK_FULL / ERROR_HANDLE_DISK_FULL, for completeness on a shared seam.</summary>
    private const int HResultDiskFull = unchecked((int)0x80070070);
    private const int HResultHandleDiskFull = unchecked((int)0x80070027);

    /// <summary>Returns the positive errno for <paramref name="error"/>; logs it when it maps to EIO.</summary>
    public static int ToErrno(Exception error, string operation, string file, long offset, Action<string> log)
    {
        int errno = Classify(error);
        if (errno == Errno.EIO)
        {
            log($"{file}: {operation} at offset {offset} failed: {error.Message}");
        }

        return errno;
    }

    internal static int Classify(Exception error) => error switch
    {
        ReadOnlyImageException or ReadOnlyFileSystemException => Errno.EROFS,
        FormatProtectionException or ReadOnlyRegionException => Errno.EPERM,
        WritePastEndException => Errno.ENOSPC,
        SizeChangeRefusedException or ChangeRefusedException => Errno.EPERM,
        RangePastEndException => Errno.EFBIG,
        UnsupportedRequestException => Errno.EOPNOTSUPP,
        IsADirectoryException => Errno.EISDIR,
        NotADirectoryException => Errno.ENOTDIR,
        ArgumentException => Errno.EINVAL,
        IOException e when IsDiskFull(e) => Errno.ENOSPC,
        _ => Errno.EIO,
    };

    /// <summary>.NET on Unix puts the raw errno into HResult for errors it has no special type for (ENOSPC among them).</summary>
    private static bool IsDiskFull(IOException e) =>
        e.HResult is Errno.ENOSPC or HResultDiskFull or HResultHandleDiskFull;
}
