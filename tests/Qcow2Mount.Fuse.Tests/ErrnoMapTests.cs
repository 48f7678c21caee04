using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.Fuse.Interop;

namespace Qcow2Mount.Fuse.Tests;

[Category(TestCategories.Unit)]
public sealed class ErrnoMapTests
{
    private static IEnumerable<TestCaseData> Cases()
    {
        yield return new TestCaseData(new ReadOnlyImageException("disk.qcow2"), Errno.EROFS).SetName("Classify_ReadOnlyImage_Erofs");
        yield return new TestCaseData(new FormatProtectionException("disk.img", "qcow2"), Errno.EPERM).SetName("Classify_FormatProtection_Eperm");
        yield return new TestCaseData(new ReadOnlyRegionException("disk.vhd", 1 << 20, 1 << 20), Errno.EPERM).SetName("Classify_ReadOnlyRegion_Eperm");
        yield return new TestCaseData(new ImageCorruptException("bad L2", 0, 0x50000), Errno.EIO).SetName("Classify_Corrupt_Eio");
        yield return new TestCaseData(new IOException("boom"), Errno.EIO).SetName("Classify_OtherIo_Eio");
        yield return new TestCaseData(new ArgumentOutOfRangeException("offset"), Errno.EINVAL).SetName("Classify_OutOfRange_Einval");
        yield return new TestCaseData(new IOException("No space left on device", Errno.ENOSPC), Errno.ENOSPC).SetName("Classify_DiskFull_Enospc");
        yield return new TestCaseData(new InvalidOperationException("bug"), Errno.EIO).SetName("Classify_Unexpected_Eio");
        yield return new TestCaseData(new ReadOnlyFileSystemException("disk.raw"), Errno.EROFS).SetName("Classify_ReadOnlyMount_Erofs");
        yield return new TestCaseData(new WritePastEndException("disk.raw", 4096, 512, 4096), Errno.ENOSPC).SetName("Classify_WritePastEnd_Enospc");
        yield return new TestCaseData(new SizeChangeRefusedException("disk.raw", 4096, 8192), Errno.EPERM).SetName("Classify_GrowRefused_Eperm");
        yield return new TestCaseData(new SizeChangeRefusedException("disk.raw", 4096, 0), Errno.EPERM).SetName("Classify_ShrinkRefused_Eperm");
        yield return new TestCaseData(new RangePastEndException("disk.raw", 8192, 4096), Errno.EFBIG).SetName("Classify_RangePastEnd_Efbig");
        yield return new TestCaseData(new UnsupportedRequestException("disk.raw", "reserving space"), Errno.EOPNOTSUPP).SetName("Classify_Unsupported_Eopnotsupp");
        yield return new TestCaseData(new IsADirectoryException("/"), Errno.EISDIR).SetName("Classify_IsADirectory_Eisdir");
        yield return new TestCaseData(new NotADirectoryException("disk.raw"), Errno.ENOTDIR).SetName("Classify_NotADirectory_Enotdir");
        yield return new TestCaseData(new ChangeRefusedException(ChangeKind.Create, true), Errno.EPERM).SetName("Classify_NamespaceChange_Eperm");
    }

    [TestCaseSource(nameof(Cases))]
    public void Classify(Exception error, int expected) => Assert.That(ErrnoMap.Classify(error), Is.EqualTo(expected));

    [Test]
    public void ToErrno_Eio_LoggedWithFileAndOffset()
    {
        var log = new List<string>();
        ErrnoMap.ToErrno(new IOException("device gone"), "read", "disk.raw", 4096, log.Add);
        Assert.That(string.Join("\n", log), Is.EqualTo("disk.raw: read at offset 4096 failed: device gone"));
    }

    [Test]
    public void ToErrno_Erofs_NotLogged()
    {
        var log = new List<string>();
        ErrnoMap.ToErrno(new ReadOnlyImageException("disk.qcow2"), "write", "disk.raw", 0, log.Add);
        Assert.That(log, Is.Empty);
    }
}
