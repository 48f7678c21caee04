using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Vfs;

/// <summary>
/// The file rules both shims share, without a shim: fixed size, clipping at the end, the read-only policy, the
/// mapping of zero and punch-hole requests to the engine, the data/hole search, times, allocated size, capacity,
/// permissions and flushing. Each refusal is checked as its typed exception (the shims' tables map those).
/// </summary>
public sealed class ImageDirectoryTests
{
    private const int Size = 1 << 20;

    private static (ImageDirectory Vfs, RawFile File, MemoryDisk Disk) Create(bool readOnly = false, bool diskReadOnly = false, int size = Size)
    {
        var disk = new MemoryDisk(size, diskReadOnly);
        var directory = new ImageDirectory(readOnly: readOnly);
        var file = directory.Add("/images/disk.qcow2", disk);
        return (directory, file, disk);
    }

    [Test]
    public void GetInfo_RootAndFile_IdsKindsSizesAndPermissions()
    {
        var (vfs, file, _) = Create();
        var (readOnly, roFile, _) = Create(readOnly: true);
        var root = vfs.GetInfo(vfs.Root);
        var info = vfs.GetInfo(file);
        Assert.Multiple(() =>
        {
            Assert.That((root.Id, root.IsDirectory, root.Permissions), Is.EqualTo((1UL, true, 0x1EDu)), "root: 0755");
            Assert.That((info.Id, info.IsDirectory, info.Size, info.Permissions, info.IsReadOnly), Is.EqualTo((2UL, false, (long)Size, 0x180u, false)), "0600: the mounting user's alone");
            Assert.That((readOnly.GetInfo(roFile).Permissions, readOnly.GetInfo(roFile).IsReadOnly), Is.EqualTo((0x100u, true)), "0400");
        });
    }

    [Test]
    public void IsReadOnly_AnyDiskOpenedReadOnly_WholeMountReadOnly()
    {
        using var vfs = new ImageDirectory();
        vfs.Add("/a/writable.qcow2", new MemoryDisk(4096));
        Assert.That(vfs.IsReadOnly, Is.False);
        vfs.Add("/a/readonly.qcow2", new MemoryDisk(4096, readOnly: true));
        Assert.That(vfs.IsReadOnly, Is.True);
    }

    [Test]
    public void Read_AtAcrossAndPastEnd_ClippedShortOnlyAtTheEnd()
    {
        var (vfs, file, disk) = Create();
        disk.Bytes.Fill(7);
        var buffer = new byte[8192];
        Assert.Multiple(() =>
        {
            Assert.That(vfs.Read(file, buffer, 0), Is.EqualTo(8192));
            Assert.That(vfs.Read(file, buffer, Size - 4096), Is.EqualTo(4096), "across the end: clipped");
            Assert.That(buffer[4095], Is.EqualTo(7));
            Assert.That(vfs.Read(file, buffer, Size), Is.Zero, "at the end");
            Assert.That(vfs.Read(file, buffer, Size + 12345), Is.Zero, "past the end");
            Assert.Throws<ArgumentOutOfRangeException>(() => vfs.Read(file, buffer, -1));
        });
    }

    [Test]
    public void Read_DiskAnswersInSmallPieces_FullCountInsideTheDisk()
    {
        var (vfs, file, disk) = Create();
        disk.Bytes[5000] = 9;
        disk.ReadChunk = 1000;
        var buffer = new byte[8192];
        Assert.That(vfs.Read(file, buffer, 0), Is.EqualTo(8192), "a short count inside the disk would read as the end of the file");
        Assert.That(buffer[5000], Is.EqualTo(9));
    }

    private static IEnumerable<TestCaseData> WriteCases()
    {
        // rule, offset, length, expected count (-1: WritePastEndException), bytes that must land at the end of the disk
        yield return new TestCaseData(WritePastEnd.WriteWhatFits, Size - 4096L, 8192, 4096, 4096).SetName("Write_WriteWhatFitsAcrossEnd_ShortCount");
        yield return new TestCaseData(WritePastEnd.WriteWhatFits, (long)Size, 8192, -1, 0).SetName("Write_WriteWhatFitsAtEnd_Refused");
        yield return new TestCaseData(WritePastEnd.Refuse, Size - 4096L, 8192, -1, 0).SetName("Write_RefuseAcrossEnd_RefusedNothingWritten");
        yield return new TestCaseData(WritePastEnd.Refuse, Size - 8192L, 8192, 8192, 8192).SetName("Write_RefuseEndingAtEnd_Written");
        yield return new TestCaseData(WritePastEnd.Refuse, Size + 100L, 512, -1, 0).SetName("Write_RefusePastEnd_Refused");
        yield return new TestCaseData(WritePastEnd.Drop, Size - 1536L, 8192, 1536, 1536).SetName("Write_DropAcrossEnd_Clipped");
        yield return new TestCaseData(WritePastEnd.Drop, (long)Size, 8192, 0, 0).SetName("Write_DropAtEnd_NothingWritten");
        yield return new TestCaseData(WritePastEnd.Refuse, (long)Size, 0, 0, 0).SetName("Write_EmptyAtEnd_ZeroOnEveryRule");
    }

    [TestCaseSource(nameof(WriteCases))]
    public void Write_PastEndRules(WritePastEnd rule, long offset, int length, int expected, int landed)
    {
        var (vfs, file, disk) = Create();
        var data = Enumerable.Repeat((byte)0xEE, length).ToArray();
        if (expected < 0)
        {
            Assert.Throws<WritePastEndException>(() => vfs.Write(file, data, offset, rule));
        }
        else
        {
            Assert.That(vfs.Write(file, data, offset, rule), Is.EqualTo(expected));
        }

        Assert.Multiple(() =>
        {
            Assert.That(file.Size, Is.EqualTo(Size), "the size never changes");
            Assert.That(disk.Bytes[(Size - 8192)..].ToArray().Count(b => b == 0xEE), Is.EqualTo(landed));
        });
    }

    [Test]
    public void Write_NegativeOffset_ArgumentError()
    {
        var (vfs, file, _) = Create();
        Assert.Throws<ArgumentOutOfRangeException>(() => vfs.Write(file, new byte[1], -1, WritePastEnd.WriteWhatFits));
    }

    [Test]
    public void SetSize_OnlyItsOwnSize_GrowAndShrinkRefusedApart()
    {
        var (vfs, file, _) = Create();
        vfs.SetSize(file, Size);
        var grow = Assert.Throws<SizeChangeRefusedException>(() => vfs.SetSize(file, Size + 1L));
        var shrink = Assert.Throws<SizeChangeRefusedException>(() => vfs.SetSize(file, 0));
        Assert.Multiple(() =>
        {
            Assert.That((grow!.Grows, shrink!.Grows), Is.EqualTo((true, false)));
            Assert.Throws<IsADirectoryException>(() => vfs.SetSize(vfs.Root, 0));
            Assert.That(file.Size, Is.EqualTo(Size));
        });
    }

    [Test]
    public void SetAllocationSize_AtOrAboveSizeNoEffect_BelowRefusedAsShrink()
    {
        var (vfs, file, _) = Create();
        vfs.SetAllocationSize(file, Size);
        vfs.SetAllocationSize(file, 1L << 40);
        var cut = Assert.Throws<SizeChangeRefusedException>(() => vfs.SetAllocationSize(file, 4096));
        Assert.That(cut!.Grows, Is.False, "an allocation below the size would cut the file");
    }

    [Test]
    public void Open_KindsWritersAndTruncation_RefusedByTheRules()
    {
        var (vfs, file, _) = Create();
        var (readOnly, roFile, _) = Create(readOnly: true);
        var (empty, emptyFile, _) = Create(size: 0);
        Assert.Multiple(() =>
        {
            Assert.Throws<IsADirectoryException>(() => vfs.Open(vfs.Root, new OpenRequest(false, Expect: NodeKind.File)));
            Assert.Throws<NotADirectoryException>(() => vfs.Open(file, new OpenRequest(false, Expect: NodeKind.Directory)));
            Assert.DoesNotThrow(() => vfs.Open(file, new OpenRequest(Write: true)));
            Assert.DoesNotThrow(() => readOnly.Open(roFile, new OpenRequest(Write: false)));
            Assert.Throws<ReadOnlyFileSystemException>(() => readOnly.Open(roFile, new OpenRequest(Write: true)));
            Assert.DoesNotThrow(() => readOnly.Open(readOnly.Root, new OpenRequest(Write: true)), "the root's data never changes: a writer may open it");
            Assert.Throws<SizeChangeRefusedException>(() => vfs.Open(file, new OpenRequest(Write: true, Truncate: true)));
            Assert.DoesNotThrow(() => empty.Open(emptyFile, new OpenRequest(Write: true, Truncate: true)), "truncating an empty file changes nothing");
        });
    }

    [Test]
    public void List_RootListsFilesInImageOrder_FileIsNotADirectory()
    {
        using var vfs = new ImageDirectory();
        vfs.Add("/b/zeta.qcow2", new MemoryDisk(4096));
        var alpha = vfs.Add("/a/alpha.qcow2", new MemoryDisk(4096));
        Assert.Multiple(() =>
        {
            Assert.That(vfs.List(vfs.Root).Select(f => f.Name), Is.EqualTo(new[] { "zeta.raw", "alpha.raw" }));
            Assert.Throws<NotADirectoryException>(() => vfs.List(alpha));
        });
    }

    [Test]
    public void Changes_OnReadOnlyMount_AllRefusedAsReadOnlyAndNothingReachesTheDisk()
    {
        var (vfs, file, disk) = Create(readOnly: true);
        Assert.Multiple(() =>
        {
            Assert.That(vfs.IsReadOnly, Is.True);
            Assert.Throws<ReadOnlyFileSystemException>(() => vfs.Write(file, new byte[512], 0, WritePastEnd.WriteWhatFits));
            Assert.Throws<ReadOnlyFileSystemException>(() => vfs.Write(file, new byte[512], Size, WritePastEnd.Drop), "read-only comes before the end rule");
            Assert.Throws<ReadOnlyFileSystemException>(() => vfs.Allocate(file, new SpaceRequest(SpaceOperation.PunchHole, 0, 4096, true)));
            Assert.Throws<ReadOnlyFileSystemException>(() => vfs.SetSize(file, Size));
            Assert.Throws<ReadOnlyFileSystemException>(() => vfs.SetAllocationSize(file, Size));
            Assert.Throws<ReadOnlyFileSystemException>(() => vfs.SetTimes(file, new TimesUpdate(Modified: DateTime.UtcNow)));
            Assert.Throws<ReadOnlyFileSystemException>(() => vfs.SetTimes(vfs.Root, new TimesUpdate(Modified: DateTime.UtcNow)));
            Assert.That(vfs.RefusalOf(ChangeKind.Create), Is.TypeOf<ReadOnlyFileSystemException>());
            Assert.That(vfs.RefusalOf(ChangeKind.Delete, file), Is.TypeOf<ReadOnlyFileSystemException>());
            vfs.Flush(file);
            vfs.FlushAll();
            Assert.That(disk.FlushCount, Is.Zero, "a read-only mount never flushes");
            Assert.That(disk.ZeroWrites, Is.Empty);
            Assert.That(disk.Bytes.ContainsAnyExcept((byte)0), Is.False);
        });
    }

    [Test]
    public void RefusalOf_WritableMount_ChangeRefusedWithKindAndWhetherTheTargetExists()
    {
        var (vfs, file, _) = Create();
        var create = (ChangeRefusedException)vfs.RefusalOf(ChangeKind.Create);
        var collide = (ChangeRefusedException)vfs.RefusalOf(ChangeKind.Create, file);
        var delete = (ChangeRefusedException)vfs.RefusalOf(ChangeKind.Delete, file);
        Assert.That(
            new[] { (create.Change, create.TargetExists), (collide.Change, collide.TargetExists), (delete.Change, delete.TargetExists) },
            Is.EqualTo(new[] { (ChangeKind.Create, false), (ChangeKind.Create, true), (ChangeKind.Delete, true) }));
    }

    private static IEnumerable<TestCaseData> AllocateCases()
    {
        // operation, keep size, offset, length, expected exception (null: success), the WriteZeroes call it must become
        yield return new TestCaseData(SpaceOperation.PunchHole, true, 4096L, 8192L, null, (4096L, 8192L, true)).SetName("Allocate_PunchHole_WriteZeroesMayUnmap");
        yield return new TestCaseData(SpaceOperation.PunchHole, true, Size - 4096L, 65536L, null, (Size - 4096L, 4096L, true)).SetName("Allocate_PunchHoleKeepSizePastEnd_Clipped");
        yield return new TestCaseData(SpaceOperation.Zero, false, 0L, 4096L, null, (0L, 4096L, false)).SetName("Allocate_Zero_WriteZeroesKeepsClusters");
        yield return new TestCaseData(SpaceOperation.Zero, true, Size - 512L, 4096L, null, (Size - 512L, 512L, false)).SetName("Allocate_ZeroKeepSizePastEnd_Clipped");
        yield return new TestCaseData(SpaceOperation.Zero, false, Size - 512L, 4096L, typeof(RangePastEndException), null).SetName("Allocate_ZeroPastEndWithoutKeepSize_WouldGrowRefused");
        yield return new TestCaseData(SpaceOperation.PunchHole, true, (long)Size, 4096L, null, null).SetName("Allocate_PunchHoleAtEnd_NothingToDo");
        yield return new TestCaseData(SpaceOperation.Reserve, false, 0L, 4096L, typeof(UnsupportedRequestException), null).SetName("Allocate_ReserveInsideDisk_NotSupportedLikeABlockDevice");
        yield return new TestCaseData(SpaceOperation.Reserve, false, Size - 4096L, 8192L, typeof(RangePastEndException), null).SetName("Allocate_ReservePastEnd_WouldGrowRefused");
        yield return new TestCaseData(SpaceOperation.PunchHole, true, -1L, 4096L, typeof(ArgumentOutOfRangeException), null).SetName("Allocate_NegativeOffset_ArgumentError");
        yield return new TestCaseData(SpaceOperation.Zero, false, 0L, 0L, typeof(ArgumentOutOfRangeException), null).SetName("Allocate_ZeroLength_ArgumentError");
        yield return new TestCaseData(SpaceOperation.Zero, true, long.MaxValue - 10, 100L, typeof(ArgumentOutOfRangeException), null).SetName("Allocate_RangeOverflows_ArgumentError");
    }

    [TestCaseSource(nameof(AllocateCases))]
    public void Allocate_Requests(SpaceOperation operation, bool keepSize, long offset, long length, Type? refusal, (long, long, bool)? zeroWrite)
    {
        var (vfs, file, disk) = Create();
        var request = new SpaceRequest(operation, offset, length, keepSize);
        if (refusal is null)
        {
            vfs.Allocate(file, request);
        }
        else
        {
            Assert.That(() => vfs.Allocate(file, request), Throws.TypeOf(refusal));
        }

        Assert.That(disk.ZeroWrites, Is.EqualTo(zeroWrite is { } z ? new[] { z } : Array.Empty<(long, long, bool)>()));
    }

    [Test]
    public void Seek_DataAndHoles_FollowBlockStatusEndIsAHole()
    {
        var (vfs, file, disk) = Create();
        int g = MemoryDisk.Granularity;
        disk.Bytes.Slice(2 * g + 100, 1).Fill(1);
        disk.Bytes.Slice(5 * g, 2 * g).Fill(1);
        Assert.Multiple(() =>
        {
            Assert.That(vfs.Seek(file, 0, SeekTarget.Data), Is.EqualTo(2 * g));
            Assert.That(vfs.Seek(file, 0, SeekTarget.Hole), Is.EqualTo(0));
            Assert.That(vfs.Seek(file, 2 * g + 5, SeekTarget.Data), Is.EqualTo(2 * g + 5));
            Assert.That(vfs.Seek(file, 2 * g + 5, SeekTarget.Hole), Is.EqualTo(3 * g));
            Assert.That(vfs.Seek(file, 3 * g, SeekTarget.Data), Is.EqualTo(5 * g));
            Assert.That(vfs.Seek(file, 5 * g, SeekTarget.Hole), Is.EqualTo(7 * g));
            Assert.That(vfs.Seek(file, 7 * g, SeekTarget.Data), Is.Null, "no data after the last run");
            Assert.That(vfs.Seek(file, Size, SeekTarget.Hole), Is.Null, "at the end: nothing");
            Assert.Throws<ArgumentOutOfRangeException>(() => vfs.Seek(file, -1, SeekTarget.Data));
        });
    }

    [Test]
    public void Seek_AllData_HoleIsTheEnd()
    {
        var (vfs, file, disk) = Create();
        disk.Bytes.Fill(9);
        Assert.That(vfs.Seek(file, 100, SeekTarget.Hole), Is.EqualTo(Size));
    }

    [Test]
    public void Times_ImageFileTimesAtFirst_ThenWritesSetModifiedAndChangedOnly()
    {
        using var dir = new TempDir("vfs-times");
        string image = dir.File("disk.qcow2");
        File.WriteAllBytes(image, [1]);
        var modified = new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc);
        var accessed = new DateTime(2002, 3, 4, 5, 6, 7, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(image, modified);
        File.SetLastAccessTimeUtc(image, accessed);
        using var vfs = new ImageDirectory();
        var file = vfs.Add(image, new MemoryDisk(Size));

        var before = file.Times;
        var start = DateTime.UtcNow;
        vfs.Write(file, new byte[512], 0, WritePastEnd.WriteWhatFits);
        var after = file.Times;

        Assert.Multiple(() =>
        {
            Assert.That(before, Is.EqualTo(new NodeTimes(modified, accessed, modified, modified)));
            Assert.That(after.Modified, Is.GreaterThanOrEqualTo(start));
            Assert.That(after.Changed, Is.GreaterThanOrEqualTo(start));
            Assert.That((after.Created, after.Accessed), Is.EqualTo((modified, accessed)), "a write reads nothing and creates nothing");
            Assert.That(File.GetLastWriteTimeUtc(image), Is.EqualTo(modified), "times are never written to the image file");
        });
    }

    [Test]
    public void SetTimes_StampChangeOrNot_ChangeTimeNowOrKept()
    {
        var (vfs, file, _) = Create();
        var t1 = new DateTime(2011, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        var t2 = new DateTime(2012, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        vfs.SetTimes(file, new TimesUpdate(Created: t1, Accessed: t1, Modified: t1, Changed: t1));

        vfs.SetTimes(file, new TimesUpdate(Modified: t2));
        var windows = file.Times;
        var start = DateTime.UtcNow;
        vfs.SetTimes(file, new TimesUpdate(Accessed: t2, StampChange: true));
        var posix = file.Times;

        Assert.Multiple(() =>
        {
            Assert.That(windows, Is.EqualTo(new NodeTimes(t1, t1, t2, t1)), "unset times and the change time are kept");
            Assert.That((posix.Created, posix.Accessed, posix.Modified), Is.EqualTo((t1, t2, t2)));
            Assert.That(posix.Changed, Is.GreaterThanOrEqualTo(start), "POSIX: setting times changes the inode");
        });
    }

    [Test]
    public void Touch_ReadOnlyMount_StampsOnlyTheNamedTimes()
    {
        var (vfs, file, _) = Create(readOnly: true);
        var before = file.Times;
        var start = DateTime.UtcNow;
        vfs.Touch(file, TimeFields.Accessed);
        var after = file.Times;
        Assert.Multiple(() =>
        {
            Assert.That(after.Accessed, Is.GreaterThanOrEqualTo(start));
            Assert.That((after.Created, after.Modified, after.Changed), Is.EqualTo((before.Created, before.Modified, before.Changed)));
        });
    }

    [Test]
    public void RootTimes_StartAtMountAndCanBeSet()
    {
        var start = DateTime.UtcNow;
        var (vfs, _, _) = Create();
        var t = new DateTime(2020, 5, 6, 7, 8, 9, DateTimeKind.Utc);
        var initial = vfs.Root.Times;
        vfs.SetTimes(vfs.Root, new TimesUpdate(Modified: t, StampChange: true));
        Assert.Multiple(() =>
        {
            Assert.That(initial.Modified, Is.GreaterThanOrEqualTo(start));
            Assert.That(vfs.GetInfo(vfs.Root).Times.Modified, Is.EqualTo(t));
        });
    }

    [Test]
    public void AllocatedBytes_SparseHostFile_ItsBlocksNotTheDiskSizeAndDiskSizeWithoutHostFile()
    {
        using var dir = new TempDir("vfs-alloc");
        string image = dir.File("sparse.img");
        using (var handle = File.OpenHandle(image, FileMode.CreateNew, FileAccess.Write))
        {
            RandomAccess.SetLength(handle, 64 << 20);
            RandomAccess.Write(handle, Enumerable.Repeat((byte)1, 1 << 20).ToArray(), 0);
            RandomAccess.FlushToDisk(handle);
        }

        using var vfs = new ImageDirectory();
        var sparse = vfs.Add(image, new MemoryDisk(Size));
        var missing = vfs.Add("/nonexistent/other.qcow2", new MemoryDisk(Size));

        Assert.Multiple(() =>
        {
            Assert.That(vfs.AllocatedBytes(sparse), Is.InRange(1L << 20, 2L << 20), "the host file's st_blocks");
            Assert.That(vfs.AllocatedBytes(missing), Is.EqualTo(Size), "no host file to ask: the whole disk");
        });
    }

    [Test]
    public void Capacity_EachFileRoundedUpToABlock_NothingFree()
    {
        using var vfs = new ImageDirectory();
        vfs.Add("/a/one.qcow2", new MemoryDisk(1000));
        vfs.Add("/a/two.qcow2", new MemoryDisk(4097));
        Assert.That(vfs.Capacity, Is.EqualTo(new VolumeCapacity(4096 + 8192, 2, 255)));
    }

    [Test]
    public void FlushAll_FirstDiskFails_SecondStillFlushedThenFirstFailureThrown()
    {
        using var vfs = new ImageDirectory();
        var failing = new MemoryDisk(4096) { Failure = new IOException("disk gone") };
        var healthy = new MemoryDisk(4096);
        vfs.Add("/a/one.qcow2", failing);
        vfs.Add("/a/two.qcow2", healthy);

        var error = Assert.Throws<IOException>(vfs.FlushAll);

        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Is.EqualTo("disk gone"));
            Assert.That(healthy.FlushCount, Is.EqualTo(1));
        });
    }

    [Test]
    public void Close_FlushFails_LoggedFalseAndEveryDiskDisposed()
    {
        var vfs = new ImageDirectory();
        var failing = new MemoryDisk(4096) { Failure = new IOException("disk gone") };
        var healthy = new MemoryDisk(4096);
        vfs.Add("/a/one.qcow2", failing);
        vfs.Add("/a/two.qcow2", healthy);
        var log = new List<string>();

        bool flushed = vfs.Close(log.Add);

        Assert.Multiple(() =>
        {
            Assert.That(flushed, Is.False);
            Assert.That(log, Is.EqualTo(new[] { "/a/one.qcow2: flush on unmount failed: disk gone" }));
            Assert.That(healthy.FlushCount, Is.EqualTo(1));
            Assert.That((failing.Disposed, healthy.Disposed), Is.EqualTo((true, true)));
            Assert.That(vfs.Files, Is.Empty);
        });
    }

    [Test]
    public void Close_DiskReadOnlySinceOpen_NotFlushed()
    {
        using var vfs = new ImageDirectory();
        var disk = new MemoryDisk(4096, readOnly: true);
        vfs.Add("/a/one.qcow2", disk);
        Assert.That(vfs.Close(_ => { }), Is.True);
        Assert.That((disk.FlushCount, disk.Disposed), Is.EqualTo((0, true)));
    }

    [Test]
    public void Open_SecondImageMissing_FirstReleasedAgain()
    {
        using var dir = new TempDir("vfs-open");
        string good = dir.File("good.img");
        File.WriteAllBytes(good, new byte[65536]);
        var options = new ImageOpenOptions { Lock = true };

        Assert.Throws<FileNotFoundException>(() => ImageDirectory.Open([good, dir.File("missing.img")], "raw", options, caseSensitiveNames: true));

        using var again = ImageDirectory.Open([good], "raw", options, caseSensitiveNames: true);
        Assert.That(again.Files.Single().Name, Is.EqualTo("good.img.raw"), "the write lock of the first open was released");
    }
}
