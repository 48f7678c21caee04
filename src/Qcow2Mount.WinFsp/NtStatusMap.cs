using System.Globalization;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.WinFsp.Interop;

namespace Qcow2Mount.WinFsp;

/// <summary>
/// The only place where exceptions become NTSTATUS values (the counterpart of the FUSE shim's ErrnoMap). Failures the
/// caller cannot explain from the status alone (device errors, corruption) are logged with the file and guest offset.
/// </summary>
internal static class NtStatusMap
{
    /// <summary>ENOSPC as .NET on Unix reports it in HResult; the Windows disk-full HRESULTs.</summary>
    private const int UnixEnospc = 28;
    private const int HResultDiskFull = unchecked((int)0x80070070);
    private const int HResultHandleDiskFull = unchecked((int)0x80070027);

    /// <summary>Returns the NTSTATUS for <paramref name="error"/>; logs it when it is a device error or corruption.</summary>
    public static int ToNtStatus(Exception error, string operation, string file, long offset, Action<string> log)
    {
        int status = Classify(error);
        if (status is NtStatus.IoDeviceError or NtStatus.FileCorruptError)
        {
            log(string.Create(CultureInfo.InvariantCulture, $"{file}: {operation} at offset {offset} failed: {error.Message}"));
        }

        return status;
    }

    internal static int Classify(Exception error) => error switch
    {
        ReadOnlyImageException or ReadOnlyFileSystemException or ReadOnlyRegionException => NtStatus.MediaWriteProtected,
        WritePastEndException or RangePastEndException => NtStatus.DiskFull,
        SizeChangeRefusedException { Grows: true } => NtStatus.DiskFull,
        SizeChangeRefusedException => NtStatus.AccessDenied,
        ChangeRefusedException { Change: ChangeKind.Create, TargetExists: true } => NtStatus.ObjectNameCollision,
        ChangeRefusedException { Change: ChangeKind.Delete } => NtStatus.CannotDelete,
        ChangeRefusedException or FormatProtectionException => NtStatus.AccessDenied,
        UnsupportedRequestException => NtStatus.NotSupported,
        IsADirectoryException => NtStatus.FileIsADirectory,
        NotADirectoryException => NtStatus.NotADirectory,
        ImageCorruptException => NtStatus.FileCorruptError,
        ArgumentException => NtStatus.InvalidParameter,
        ObjectDisposedException => NtStatus.DeviceNotReady,
        OutOfMemoryException => NtStatus.InsufficientResources,
        IOException e when e.HResult is UnixEnospc or HResultDiskFull or HResultHandleDiskFull => NtStatus.DiskFull,
        _ => NtStatus.IoDeviceError,
    };
}
