using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.Fuse.Interop;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>The FUSE semantics without a kernel: what each operation returns and which disk call it makes.</summary>
public sealed class FuseFileSystemTests
{
    private const int Size = 1 << 20;
    private const int KeepSize = 0x1, PunchHole = 0x2, ZeroRange = 0x10, CollapseRange = 0x8;
    private const int SeekData = 3, SeekHole = 4;
    private const int OWronly = 1, ORdwr = 2, OTrunc = 0x200;

    private static (FuseFileSystem Fs, MemoryDisk Disk, List<string> Log) Create(bool readOnly = false)
    {
        var disk = new MemoryDisk(Size);
        var directory = new ImageDirectory(readOnly: readOnly);
        directory.Add("/images/disk.qcow2", disk);
        var log = new List<string>();
        return (new FuseFileSystem(directory, log.Add), disk, log);
    }

    [Test]
    public void GetAttributes_RootAndFile_DirectoryAndSizedRegularFile()
    {
        var (fs, _, _) = Create();
        Assert.Multiple(() =>
        {
            Assert.That(fs.GetAttributes(fs.Resolve("/"), out var root), Is.Zero);
            Assert.That(root.Mode, Is.EqualTo(LinuxConstants.S_IFDIR | 0x1ED));
            Assert.That(fs.GetAttributes(fs.Resolve("/disk.raw"), out var file), Is.Zero);
            Assert.That(file.Mode, Is.EqualTo(LinuxConstants.S_IFREG | 0x180), "0600: the disk is the mounting user's alone (QEMU's FUSE export does the same)");
            Assert.That(file.Size, Is.EqualTo(Size));
            Assert.That(fs.GetAttributes(fs.Resolve("/other.raw"), out _), Is.EqualTo(-Errno.ENOENT));
            Assert.That(fs.GetAttributes(fs.Resolve("/disk.raw/x"), out _), Is.EqualTo(-Errno.ENOENT));
        });
    }

    [Test]
    public void GetAttributes_SparseImageFile_AllocatedBytesAreTheImageFilesNotTheDisksSize()
    {
        string image = Path.Combine(Path.GetTempPath(), $"qcow2mount-alloc-{Guid.NewGuid():N}.img");
        try
        {
            using (var handle = File.OpenHandle(image, FileMode.CreateNew, FileAccess.Write))
            {
                RandomAccess.SetLength(handle, 64 << 20);
                RandomAccess.Write(handle, new byte[1 << 20].Select(_ => (byte)1).ToArray(), 0);
                RandomAccess.FlushToDisk(handle);
            }

            var directory = new ImageDirectory();
            directory.Add(image, new MemoryDisk(Size));
            directory.Add("/nonexistent/other.qcow2", new MemoryDisk(Size));
            var fs = new FuseFileSystem(directory, _ => { });

            fs.GetAttributes(1, out var sparse);
            fs.GetAttributes(2, out var unknown);

            Assert.Multiple(() =>
            {
                Assert.That(sparse.AllocatedBytes, Is.InRange(1L << 20, 2L << 20), "the host file's st_blocks");
                Assert.That(unknown.AllocatedBytes, Is.EqualTo(Size), "no host file to ask: the whole disk");
            });
        }
        finally
        {
            File.Delete(image);
        }
    }

    [Test]
    public void GetAttributes_ReadOnly_FileModeHasNoWriteBits()
    {
        var (fs, _, _) = Create(readOnly: true);
        fs.GetAttributes(fs.Resolve("/disk.raw"), out var file);
        Assert.That(file.Mode & 0x1FF, Is.EqualTo(0x100), "0400");
    }

    [Test]
    public void ListDirectory_Root_NamesEveryImage()
    {
        var directory = new ImageDirectory();
        directory.Add("/a/disk.qcow2", new MemoryDisk(4096));
        directory.Add("/b/disk.qcow2", new MemoryDisk(4096));
        var fs = new FuseFileSystem(directory, _ => { });
        Assert.That(fs.ListDirectory(fs.Resolve("/"), out var names), Is.Zero);
        Assert.That(string.Join(",", names), Is.EqualTo("disk.raw,disk-2.raw"));
    }

    [Test]
    public void Open_WriteOnReadOnlyMount_Erofs()
    {
        var (fs, _, _) = Create(readOnly: true);
        Assert.Multiple(() =>
        {
            Assert.That(fs.Open(fs.Resolve("/disk.raw"), ORdwr), Is.EqualTo(-Errno.EROFS));
            Assert.That(fs.Open(fs.Resolve("/disk.raw"), OWronly), Is.EqualTo(-Errno.EROFS));
            Assert.That(fs.Open(fs.Resolve("/disk.raw"), 0), Is.EqualTo(1));
        });
    }

    [Test]
    public void Open_WithOTrunc_Eperm()
    {
        var (fs, _, _) = Create();
        Assert.That(fs.Open(fs.Resolve("/disk.raw"), ORdwr | OTrunc), Is.EqualTo(-Errno.EPERM));
    }

    [Test]
    public void Read_AtAndPastEnd_ShortThenZero()
    {
        var (fs, disk, _) = Create();
        disk.Bytes.Fill(7);
        var buffer = new byte[8192];
        Assert.Multiple(() =>
        {
            Assert.That(fs.Read(1, buffer, Size - 4096), Is.EqualTo(4096));
            Assert.That(buffer[4095], Is.EqualTo(7));
            Assert.That(fs.Read(1, buffer, Size), Is.Zero);
            Assert.That(fs.Read(9, buffer, 0), Is.EqualTo(-Errno.EBADF));
        });
    }

    [Test]
    public void Write_CrossingEnd_ShortCountThenEnospc()
    {
        var (fs, disk, _) = Create();
        var data = new byte[8192];
        data.AsSpan().Fill(3);
        Assert.Multiple(() =>
        {
            Assert.That(fs.Write(1, data, Size - 4096), Is.EqualTo(4096));
            Assert.That(disk.Bytes[Size - 1], Is.EqualTo(3));
            Assert.That(fs.Write(1, data, Size), Is.EqualTo(-Errno.ENOSPC));
        });
    }

    [Test]
    public void Write_ReadOnlyMount_Erofs()
    {
        var (fs, _, _) = Create(readOnly: true);
        Assert.That(fs.Write(1, new byte[512], 0), Is.EqualTo(-Errno.EROFS));
    }

    [Test]
    public void Write_DiskThrowsCorrupt_EioAndLoggedWithOffset()
    {
        var (fs, disk, log) = Create();
        disk.Failure = new ImageCorruptException("disk.qcow2: L2 table at 0x50000 is not cluster-aligned", 8192, 0x50000);
        Assert.Multiple(() =>
        {
            Assert.That(fs.Write(1, new byte[512], 8192), Is.EqualTo(-Errno.EIO));
            Assert.That(log, Has.Count.EqualTo(1));
            Assert.That(log[0], Does.Contain("offset 8192").And.Contain("0x50000"));
        });
    }

    [Test]
    public void Flush_Always_FlushesTheDisk()
    {
        var (fs, disk, _) = Create();
        Assert.That(fs.Flush(1), Is.Zero);
        Assert.That(disk.FlushCount, Is.EqualTo(1));
    }

    private static IEnumerable<TestCaseData> AllocateCases()
    {
        yield return new TestCaseData(0, 0L, 4096L, -Errno.EOPNOTSUPP, null).SetName("Allocate_Mode0InsideDisk_NotSupportedLikeABlockDevice");
        yield return new TestCaseData(KeepSize, 0L, 4096L, -Errno.EOPNOTSUPP, null).SetName("Allocate_KeepSizeAlone_NotSupported");
        yield return new TestCaseData(0, Size - 4096L, 8192L, -Errno.EFBIG, null).SetName("Allocate_Mode0PastEnd_Efbig");
        yield return new TestCaseData(PunchHole | KeepSize, 4096L, 8192L, 0, (4096L, 8192L, true)).SetName("Allocate_PunchHole_WriteZeroesMayUnmap");
        yield return new TestCaseData(PunchHole | KeepSize, Size - 4096L, 65536L, 0, (Size - 4096L, 4096L, true)).SetName("Allocate_PunchHolePastEnd_Clipped");
        yield return new TestCaseData(ZeroRange, 0L, 4096L, 0, (0L, 4096L, false)).SetName("Allocate_ZeroRange_WriteZeroesNoUnmap");
        yield return new TestCaseData(ZeroRange | KeepSize, Size - 512L, 4096L, 0, (Size - 512L, 512L, false)).SetName("Allocate_ZeroRangeKeepSizePastEnd_Clipped");
        yield return new TestCaseData(ZeroRange, Size - 512L, 4096L, -Errno.EFBIG, null).SetName("Allocate_ZeroRangePastEnd_Efbig");
        yield return new TestCaseData(PunchHole | KeepSize, (long)Size, 4096L, 0, null).SetName("Allocate_PunchHoleAtEnd_NothingToDo");
        yield return new TestCaseData(CollapseRange, 0L, 4096L, -Errno.EOPNOTSUPP, null).SetName("Allocate_CollapseRange_Eopnotsupp");
        yield return new TestCaseData(PunchHole | KeepSize, -1L, 4096L, -Errno.EINVAL, null).SetName("Allocate_NegativeOffset_Einval");
        yield return new TestCaseData(ZeroRange, 0L, 0L, -Errno.EINVAL, null).SetName("Allocate_ZeroLength_Einval");
    }

    [TestCaseSource(nameof(AllocateCases))]
    public void Allocate_Modes(int mode, long offset, long length, int expected, (long, long, bool)? zeroWrite)
    {
        var (fs, disk, _) = Create();
        Assert.That(fs.Allocate(1, mode, offset, length), Is.EqualTo(expected));
        Assert.That(disk.ZeroWrites, Is.EqualTo(zeroWrite is { } z ? new[] { z } : Array.Empty<(long, long, bool)>()));
    }

    [Test]
    public void Allocate_ReadOnly_Erofs()
    {
        var (fs, _, _) = Create(readOnly: true);
        Assert.That(fs.Allocate(1, PunchHole | KeepSize, 0, 4096), Is.EqualTo(-Errno.EROFS));
    }

    [Test]
    public void Seek_DataAndHoles_FollowBlockStatus()
    {
        var (fs, disk, _) = Create();
        int g = MemoryDisk.Granularity;
        disk.Bytes.Slice(2 * g + 100, 1).Fill(1); // data in chunk 2
        disk.Bytes.Slice(5 * g, 2 * g).Fill(1);   // data in chunks 5 and 6
        Assert.Multiple(() =>
        {
            Assert.That(fs.Seek(1, 0, SeekData), Is.EqualTo(2 * g));
            Assert.That(fs.Seek(1, 0, SeekHole), Is.EqualTo(0));
            Assert.That(fs.Seek(1, 2 * g + 5, SeekData), Is.EqualTo(2 * g + 5));
            Assert.That(fs.Seek(1, 2 * g + 5, SeekHole), Is.EqualTo(3 * g));
            Assert.That(fs.Seek(1, 3 * g, SeekData), Is.EqualTo(5 * g));
            Assert.That(fs.Seek(1, 5 * g, SeekHole), Is.EqualTo(7 * g));
            Assert.That(fs.Seek(1, 7 * g, SeekData), Is.EqualTo(-Errno.ENXIO));
            Assert.That(fs.Seek(1, Size, SeekHole), Is.EqualTo(-Errno.ENXIO));
            Assert.That(fs.Seek(1, 0, 2), Is.EqualTo(-Errno.EINVAL));
        });
    }

    [Test]
    public void Seek_AllData_HoleIsTheEnd()
    {
        var (fs, disk, _) = Create();
        disk.Bytes.Fill(9);
        Assert.That(fs.Seek(1, 100, SeekHole), Is.EqualTo(Size));
    }

    [Test]
    public void Truncate_OtherSizeRefusedSameSizeAccepted()
    {
        var (fs, _, _) = Create();
        Assert.Multiple(() =>
        {
            Assert.That(fs.Truncate(fs.Resolve("/disk.raw"), 0), Is.EqualTo(-Errno.EPERM));
            Assert.That(fs.Truncate(fs.Resolve("/disk.raw"), Size * 2L), Is.EqualTo(-Errno.EPERM));
            Assert.That(fs.Truncate(fs.Resolve("/disk.raw"), Size), Is.Zero);
            Assert.That(fs.Truncate(fs.Resolve("/nope.raw"), Size), Is.EqualTo(-Errno.ENOENT));
        });
    }

    [Test]
    public void Capacity_SumsDiskSizesInPages()
    {
        var (fs, _, _) = Create();
        Assert.That(fs.Capacity(), Is.EqualTo(((ulong)Size / 4096, 1UL, 255UL)));
    }
}
