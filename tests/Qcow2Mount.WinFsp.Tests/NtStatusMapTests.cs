using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.WinFsp.Interop;

namespace Qcow2Mount.WinFsp.Tests;

/// <summary>Every exception the engine can raise has one NTSTATUS; device errors and corruption are logged with file and offset.</summary>
[Category(TestCategories.Unit)]
public sealed class NtStatusMapTests
{
    private static IEnumerable<TestCaseData> Cases()
    {
        yield return new TestCaseData(new ReadOnlyImageException("disk.qcow2"), NtStatus.MediaWriteProtected).SetArgDisplayNames("ReadOnlyImage");
        yield return new TestCaseData(new ImageCorruptException("L2 table at 0x50000 is not cluster-aligned", 0, 0x50000), NtStatus.FileCorruptError).SetArgDisplayNames("ImageCorrupt");
        yield return new TestCaseData(new ArgumentOutOfRangeException("offset"), NtStatus.InvalidParameter).SetArgDisplayNames("Argument");
        yield return new TestCaseData(new ObjectDisposedException("disk"), NtStatus.DeviceNotReady).SetArgDisplayNames("Disposed");
        yield return new TestCaseData(new OutOfMemoryException(), NtStatus.InsufficientResources).SetArgDisplayNames("OutOfMemory");
        yield return new TestCaseData(new IOException("No space left on device", 28), NtStatus.DiskFull).SetArgDisplayNames("ENOSPC");
        yield return new TestCaseData(new IOException("disk full", unchecked((int)0x80070070)), NtStatus.DiskFull).SetArgDisplayNames("ERROR_DISK_FULL");
        yield return new TestCaseData(new IOException("disk full", unchecked((int)0x80070027)), NtStatus.DiskFull).SetArgDisplayNames("ERROR_HANDLE_DISK_FULL");
        yield return new TestCaseData(new IOException("Input/output error", 5), NtStatus.IoDeviceError).SetArgDisplayNames("EIO");
        yield return new TestCaseData(new BackingChainException("base.qcow2: missing"), NtStatus.IoDeviceError).SetArgDisplayNames("BackingChain");
        yield return new TestCaseData(new InvalidOperationException("bug"), NtStatus.IoDeviceError).SetArgDisplayNames("Unexpected");
        yield return new TestCaseData(new FormatProtectionException("disk.img", "qcow2"), NtStatus.AccessDenied).SetArgDisplayNames("FormatProtection");
        yield return new TestCaseData(new ReadOnlyRegionException("disk.vhd", 1 << 20, 1 << 20), NtStatus.MediaWriteProtected).SetArgDisplayNames("ReadOnlyRegion");
        yield return new TestCaseData(new ReadOnlyFileSystemException("disk.raw"), NtStatus.MediaWriteProtected).SetArgDisplayNames("ReadOnlyMount");
        yield return new TestCaseData(new WritePastEndException("disk.raw", 4096, 512, 4096), NtStatus.DiskFull).SetArgDisplayNames("WritePastEnd");
        yield return new TestCaseData(new SizeChangeRefusedException("disk.raw", 4096, 8192), NtStatus.DiskFull).SetArgDisplayNames("Grow");
        yield return new TestCaseData(new SizeChangeRefusedException("disk.raw", 4096, 0), NtStatus.AccessDenied).SetArgDisplayNames("Shrink");
        yield return new TestCaseData(new RangePastEndException("disk.raw", 8192, 4096), NtStatus.DiskFull).SetArgDisplayNames("RangePastEnd");
        yield return new TestCaseData(new UnsupportedRequestException("disk.raw", "reserving space"), NtStatus.NotSupported).SetArgDisplayNames("Unsupported");
        yield return new TestCaseData(new IsADirectoryException("\\"), NtStatus.FileIsADirectory).SetArgDisplayNames("IsADirectory");
        yield return new TestCaseData(new NotADirectoryException("disk.raw"), NtStatus.NotADirectory).SetArgDisplayNames("NotADirectory");
        yield return new TestCaseData(new ChangeRefusedException(ChangeKind.Create, true), NtStatus.ObjectNameCollision).SetArgDisplayNames("CreateExisting");
        yield return new TestCaseData(new ChangeRefusedException(ChangeKind.Create, false), NtStatus.AccessDenied).SetArgDisplayNames("CreateNew");
        yield return new TestCaseData(new ChangeRefusedException(ChangeKind.Delete, true), NtStatus.CannotDelete).SetArgDisplayNames("Delete");
        yield return new TestCaseData(new ChangeRefusedException(ChangeKind.Rename, true), NtStatus.AccessDenied).SetArgDisplayNames("Rename");
    }

    [TestCaseSource(nameof(Cases))]
    public void Classify_Exception_OneStatus(Exception error, int status) =>
        Assert.That(NtStatusMap.Classify(error), Is.EqualTo(status));

    [Test]
    public void ToNtStatus_DeviceErrorAndCorruption_LoggedWithFileAndOffset()
    {
        var log = new List<string>();
        int io = NtStatusMap.ToNtStatus(new IOException("Input/output error"), "read", "disk.raw", 4096, log.Add);
        int corrupt = NtStatusMap.ToNtStatus(new ImageCorruptException("disk.qcow2: bad L2"), "write", "disk.raw", 8192, log.Add);
        int readOnly = NtStatusMap.ToNtStatus(new ReadOnlyImageException("disk.qcow2"), "write", "disk.raw", 0, log.Add);
        Assert.Multiple(() =>
        {
            Assert.That((io, corrupt, readOnly), Is.EqualTo((NtStatus.IoDeviceError, NtStatus.FileCorruptError, NtStatus.MediaWriteProtected)));
            Assert.That(log, Is.EqualTo(new[]
            {
                "disk.raw: read at offset 4096 failed: Input/output error",
                "disk.raw: write at offset 8192 failed: disk.qcow2: bad L2",
            }));
        });
    }
}
