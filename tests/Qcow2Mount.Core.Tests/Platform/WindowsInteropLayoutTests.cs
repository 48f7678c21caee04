using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Qcow2Mount.Core.Interop;

namespace Qcow2Mount.Core.Tests.Platform;

/// <summary>
/// The Windows bindings' structures and control codes against the public headers (winioctl.h, fileapi.h): sizes,
/// field offsets, and each FSCTL code rebuilt from CTL_CODE's parts. These run on Linux; a wrong number here would
/// only show on Windows otherwise.
/// </summary>
[TestFixture]
[Category(TestCategories.Unit)]
internal sealed class WindowsInteropLayoutTests
{
    private const uint FileDeviceFileSystem = 9, MethodBuffered = 0, MethodNeither = 3;
    private const uint FileAnyAccess = 0, FileReadData = 1, FileWriteData = 2;

    [Test]
    public void ByHandleFileInformation_MatchesFileApiH() => Assert.Multiple(() =>
    {
        Assert.That(Unsafe.SizeOf<ByHandleFileInformation>(), Is.EqualTo(52));
        Assert.That(Marshal.OffsetOf<ByHandleFileInformation>(nameof(ByHandleFileInformation.VolumeSerialNumber)), Is.EqualTo((nint)28));
        Assert.That(Marshal.OffsetOf<ByHandleFileInformation>(nameof(ByHandleFileInformation.NumberOfLinks)), Is.EqualTo((nint)40));
        Assert.That(Marshal.OffsetOf<ByHandleFileInformation>(nameof(ByHandleFileInformation.FileIndexHigh)), Is.EqualTo((nint)44));
        Assert.That(Marshal.OffsetOf<ByHandleFileInformation>(nameof(ByHandleFileInformation.FileIndexLow)), Is.EqualTo((nint)48));
    });

    [Test]
    public void FileRange_IsTwoLargeIntegers() => Assert.Multiple(() =>
    {
        Assert.That(Unsafe.SizeOf<FileRange>(), Is.EqualTo(16));
        Assert.That(Marshal.OffsetOf<FileRange>(nameof(FileRange.Second)), Is.EqualTo((nint)8));
    });

    [Test]
    public void Flock_Is32BytesWithStartAt8() => Assert.Multiple(() =>
    {
        Assert.That(Unsafe.SizeOf<Flock>(), Is.EqualTo(32));
        Assert.That(Marshal.OffsetOf<Flock>(nameof(Flock.Start)), Is.EqualTo((nint)8));
        Assert.That(Marshal.OffsetOf<Flock>(nameof(Flock.Length)), Is.EqualTo((nint)16));
    });

    [TestCase(Kernel32.FSCTL_SET_SPARSE, 49u, MethodBuffered, FileAnyAccess)]
    [TestCase(Kernel32.FSCTL_SET_ZERO_DATA, 50u, MethodBuffered, FileWriteData)]
    [TestCase(Kernel32.FSCTL_QUERY_ALLOCATED_RANGES, 51u, MethodNeither, FileReadData)]
    public void FsctlCode_IsCtlCodeOfItsParts(uint code, uint function, uint method, uint access) =>
        Assert.That(code, Is.EqualTo(CtlCode(FileDeviceFileSystem, function, method, access)));

    private static uint CtlCode(uint deviceType, uint function, uint method, uint access) =>
        (deviceType << 16) | (access << 14) | (function << 2) | method;
}
