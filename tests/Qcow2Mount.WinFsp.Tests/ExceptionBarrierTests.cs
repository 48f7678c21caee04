using Qcow2Mount.Core.Errors;
using Qcow2Mount.TestSupport;
using Qcow2Mount.WinFsp.Interop;
using Qcow2Mount.WinFsp.Tests.Support;

namespace Qcow2Mount.WinFsp.Tests;

/// <summary>
/// Engine exceptions come back from the native callbacks as NTSTATUS values. An exception escaping an
/// [UnmanagedCallersOnly] method ends the process, so each of these tests would crash the test host instead of failing.
/// </summary>
[Category(TestCategories.Unit)]
public sealed class ExceptionBarrierTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir("winfsp-barrier");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public void Read_EngineThrowsCorruption_FileCorruptErrorAndLogged()
    {
        using var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2", 1 << 20));
        nint file = shim.OpenOrFail("\\disk.raw");
        shim.Disks[0].Failure = new ImageCorruptException("disk.qcow2: L2 table at 0x50000 is not cluster-aligned", 65536, 0x50000);
        Assert.Multiple(() =>
        {
            Assert.That(shim.Read(file, 65536, new byte[4096], out uint n), Is.EqualTo(NtStatus.FileCorruptError));
            Assert.That(n, Is.Zero);
            Assert.That(shim.Messages, Is.EqualTo(new[] { "disk.raw: read at offset 65536 failed: disk.qcow2: L2 table at 0x50000 is not cluster-aligned" }));
        });
        shim.Disks[0].Failure = null;
    }

    [Test]
    public void WriteAndFlush_EngineThrows_MappedStatuses()
    {
        using var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2", 1 << 20));
        nint file = shim.OpenOrFail("\\disk.raw", MountedShim.WriteAccess);
        shim.Disks[0].Failure = new ReadOnlyImageException("disk.qcow2");
        Assert.That(shim.Write(file, 0, new byte[512], out _, out _), Is.EqualTo(NtStatus.MediaWriteProtected), "image turned read-only after corruption");
        shim.Disks[0].Failure = new IOException("No space left on device", 28);
        Assert.That(shim.Flush(file), Is.EqualTo(NtStatus.DiskFull));
        shim.Disks[0].Failure = new InvalidOperationException("a bug");
        Assert.That(shim.Flush(0), Is.EqualTo(NtStatus.IoDeviceError));
        shim.Disks[0].Failure = null;
    }

    [Test]
    public void Cleanup_FlushThrows_LoggedAndNoException()
    {
        using var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2", 1 << 20));
        nint file = shim.OpenOrFail("\\disk.raw", MountedShim.WriteAccess);
        shim.Write(file, 0, new byte[512], out _, out _);
        shim.Disks[0].Failure = new IOException("Input/output error");
        shim.Cleanup(file, 0);
        shim.Close(file);
        Assert.That(shim.Messages, Has.Some.EqualTo("disk.raw: flush on cleanup failed: Input/output error"));
        shim.Disks[0].Failure = null;
    }

    [Test]
    public unsafe void Callback_FileSystemWithoutUserContext_StatusNotCrash()
    {
        using var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2", 1 << 20));
        var orphan = default(FileSystemHeader);
        VolumeInfo info = default;
        int status = shim.Api.Interface->GetVolumeInfo((nint)(&orphan), &info);
        Assert.That(status, Is.EqualTo(NtStatus.IoDeviceError));
    }
}
