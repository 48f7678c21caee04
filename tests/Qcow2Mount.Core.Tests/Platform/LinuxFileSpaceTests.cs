using System.IO.Pipes;
using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core.Platform;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Platform;

/// <summary>The Linux space operations on real files in the temp folder: holes punched and zeroed, then seen by extents and st_blocks.</summary>
[TestFixture]
[Category(TestCategories.Unit)]
internal sealed class LinuxFileSpaceTests
{
    private const int MiB = 1 << 20;

    private TempDir _dir = null!;

    [SetUp]
    public void MakeDir() => _dir = new TempDir("filespace");

    [TearDown]
    public void RemoveDir() => _dir.Dispose();

    [Test]
    public void PunchHole_MiddleOfDataFile_LeavesAHoleThatExtentsAndAllocationSee()
    {
        string path = DataFile(4 * MiB);
        var space = new LinuxFileSpace();
        long before = space.AllocatedBytes(path)!.Value;
        using (var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            Assert.That(space.PunchHole(file, MiB, 2 * MiB), Is.True);
            Assert.Multiple(() =>
            {
                Assert.That(space.Extent(file, 0, 4 * MiB), Is.EqualTo(new FileExtent(true, MiB)));
                Assert.That(space.Extent(file, MiB, 4 * MiB), Is.EqualTo(new FileExtent(false, 2 * MiB)));
                Assert.That(space.Extent(file, 3 * MiB, MiB), Is.EqualTo(new FileExtent(true, MiB)));
                Assert.That(RandomAccess.GetLength(file), Is.EqualTo(4 * MiB), "punching keeps the length");
            });
        }

        Assert.That(space.AllocatedBytes(path), Is.EqualTo(before - 2 * MiB));
    }

    [Test]
    public void SyncData_WrittenFile_ReturnsAndKeepsTheBytes()
    {
        string path = DataFile(MiB);
        byte[] expected = File.ReadAllBytes(path);
        using (var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(file, expected.AsSpan(0, 4096), MiB); // grows the file: fdatasync must sync the size
            new LinuxFileSpace().SyncData(file, path);
        }

        Assert.That(new FileInfo(path).Length, Is.EqualTo(MiB + 4096));
    }

    [Test]
    public void SyncData_Pipe_ThrowsIOExceptionNamingFileAndCall()
    {
        // fdatasync(2) on a pipe fails with EINVAL: the failure of a sync must reach the caller (a guest's fsync gets EIO).
        using var pipe = new AnonymousPipeServerStream(PipeDirection.Out);
        using var handle = new SafeFileHandle(pipe.SafePipeHandle.DangerousGetHandle(), ownsHandle: false);
        var error = Assert.Throws<IOException>(() => new LinuxFileSpace().SyncData(handle, "the-pipe"));
        Assert.That(error!.Message, Does.StartWith("the-pipe: fdatasync failed: "));
    }

    [Test]
    public void ZeroRange_PastTheEnd_GrowsTheFileWithZeros()
    {
        string path = DataFile(MiB);
        var space = new LinuxFileSpace();
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);

        Assert.That(space.ZeroRange(file, MiB / 2, MiB), Is.True);

        var tail = new byte[MiB];
        int n = RandomAccess.Read(file, tail, MiB / 2);
        Assert.Multiple(() =>
        {
            Assert.That(RandomAccess.GetLength(file), Is.EqualTo(MiB + MiB / 2));
            Assert.That(n, Is.EqualTo(MiB));
            Assert.That(tail.All(b => b == 0), Is.True);
        });
    }

    [TestCase(3 * MiB)]
    [TestCase(MiB / 2)]
    public void Reset_FileWithData_ReadsAsZerosAtTheNewLength(int length)
    {
        string path = DataFile(MiB);
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);

        new LinuxFileSpace().Reset(file, length);

        var content = new byte[length];
        int n = RandomAccess.Read(file, content, 0);
        Assert.Multiple(() =>
        {
            Assert.That(RandomAccess.GetLength(file), Is.EqualTo(length));
            Assert.That(n, Is.EqualTo(length));
            Assert.That(content.All(b => b == 0), Is.True, "the old content is gone");
        });
    }

    /// <summary>
    /// A file reset and then rewritten through the same descriptor is not flushed when that descriptor closes: ext4
    /// flushes a file truncated to zero at its close (auto_da_alloc), and a conversion that syncs nothing waited 1.5 s
    /// for 4 GiB there. Read off the page cache: the pages written must still be dirty after the close.
    /// </summary>
    [TestCase(0, TestName = "Reset_NewFileRewrittenAndClosed_ThePagesAreLeftDirty")]
    [TestCase(MiB, TestName = "Reset_FileWithDataRewrittenAndClosed_ThePagesAreLeftDirty")]
    public void Reset_RewrittenAndClosed_ThePagesAreLeftDirty(int existing)
    {
        const int size = 32 * MiB;
        using var disk = new TempDir("filespace-reset", root: "/var/tmp"); // a disk file system: tmpfs has no writeback
        string path = disk.File("target");
        File.WriteAllBytes(path, RandomBytes(existing));
        var data = RandomBytes(MiB);
        using (var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite))
        {
            new LinuxFileSpace().Reset(file, size);
            for (long at = 0; at < size; at += MiB)
            {
                RandomAccess.Write(file, data, at);
            }
        }

        Assert.That(PageCache.DirtyPages(path), Is.GreaterThan(size / 4096 / 2), "dirty pages of the 32 MiB written, after the close");
    }

    [Test]
    public void AllocatedBytes_MissingFile_IsNull() =>
        Assert.That(new LinuxFileSpace().AllocatedBytes(_dir.File("missing")), Is.Null);

    private string DataFile(int length)
    {
        string path = _dir.File("data.bin");
        File.WriteAllBytes(path, RandomBytes(length));
        return path;
    }

    private static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        Random.Shared.NextBytes(bytes);
        return bytes;
    }
}
