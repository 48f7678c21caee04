using Qcow2Mount.Core.Errors;
using Qcow2Mount.Fuse.Interop;

namespace Qcow2Mount.Fuse.Tests;

public sealed class ErrnoMapTests
{
    private static IEnumerable<TestCaseData> Cases()
    {
        yield return new TestCaseData(new ReadOnlyImageException("disk.qcow2"), Errno.EROFS).SetName("Classify_ReadOnlyImage_Erofs");
        yield return new TestCaseData(new FormatProtectionException("disk.img", "qcow2"), Errno.EPERM).SetName("Classify_FormatProtection_Eperm");
        yield return new TestCaseData(new ImageCorruptException("bad L2", 0, 0x50000), Errno.EIO).SetName("Classify_Corrupt_Eio");
        yield return new TestCaseData(new IOException("boom"), Errno.EIO).SetName("Classify_OtherIo_Eio");
        yield return new TestCaseData(new ArgumentOutOfRangeException("offset"), Errno.EINVAL).SetName("Classify_OutOfRange_Einval");
        yield return new TestCaseData(new IOException("No space left on device", Errno.ENOSPC), Errno.ENOSPC).SetName("Classify_DiskFull_Enospc");
        yield return new TestCaseData(new InvalidOperationException("bug"), Errno.EIO).SetName("Classify_Unexpected_Eio");
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
