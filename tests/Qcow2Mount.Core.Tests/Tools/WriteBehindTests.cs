using Qcow2Mount.Core.Storage;
using Qcow2Mount.Core.Tools;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Tools;

/// <summary>
/// The write-behind of long copies: when it starts writing back (every interval), and what that does to a real file,
/// read off the kernel's own page cache counters (cachestat(2), Linux 6.5+).
/// </summary>
[TestFixture]
[CancelAfter(30_000)]
[Category(TestCategories.Unit)]
internal sealed class WriteBehindTests
{
    private const int MiB = 1 << 20;

    private TempDir _dir = null!;

    [SetUp]
    public void MakeDir() => _dir = new TempDir("writebehind", root: "/var/tmp"); // a disk file system: tmpfs has no writeback

    [TearDown]
    public void RemoveDir() => _dir.Dispose();

    [Test]
    public void Written_LessThanAnInterval_StartsNothing()
    {
        using var device = NewDevice();
        var writeBehind = new WriteBehind(device);
        for (int i = 0; i < 63; i++)
        {
            writeBehind.Written(MiB);
        }

        Assert.That(writeBehind.Started, Is.Zero);
        writeBehind.Written(MiB);
        Assert.That(writeBehind.Started, Is.EqualTo(1), "the 64th MiB crosses the interval");
    }

    /// <summary>
    /// What a write-behind does to each file: its dirty pages are handed to the disk before the call returns (the
    /// kernel's own flusher would leave them dirty for 30 s on a quiet machine).
    /// </summary>
    [Test]
    public void StartWriteBack_DirtyFile_ItsPagesAreNoLongerDirty()
    {
        const int size = 64 * MiB;
        using var device = NewDevice();
        var data = new byte[MiB];
        Random.Shared.NextBytes(data);
        for (long at = 0; at < size; at += MiB)
        {
            device.Write(at, data);
        }

        long before = PageCache.DirtyPages(device.Handle, size);
        device.StartWriteBack();
        long after = PageCache.DirtyPages(device.Handle, size);

        Assert.That(after, Is.LessThanOrEqualTo(size / 4096 / 20), $"dirty pages of the 64 MiB written, right after the call ({before} just before it)");
    }

    private FileBlockDevice NewDevice()
    {
        string path = _dir.File("target");
        File.WriteAllBytes(path, []);
        return FileBlockDevice.Open(path, readOnly: false);
    }
}
