using Qcow2Mount.TestSupport;
using Qcow2Mount.WinFsp.Interop;
using Qcow2Mount.WinFsp.Tests.Support;
using static Qcow2Mount.WinFsp.Interop.WinFspConstants;

namespace Qcow2Mount.WinFsp.Tests;

/// <summary>
/// What a Windows user gets, through the real interface table, over real qcow2 images made by QEMU: the volume, the
/// root listing, opens, reads (clipped at the end, compared with qemu-img's raw conversion), writes (checked with
/// qemu-img check and compare against a twin written by qemu-io), size rules, read-only refusals, flush and times.
/// </summary>
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class WinFspCallbacksTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir("winfsp");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public void GetVolumeInfo_TwoImages_TotalSizeIsBothFilesNoFreeSpace()
    {
        string a = Images.WithData(_dir, "a.qcow2");
        string b = Images.WithData(_dir, "b.img", size: 1 << 20);
        using var shim = MountedShim.Mount(false, a, b);
        Assert.That(shim.VolumeInfo(out var info), Is.EqualTo(NtStatus.Success));
        Assert.Multiple(() =>
        {
            Assert.That(info.TotalSize, Is.EqualTo((ulong)(Images.OddSize + 4096 - 1536 + (1 << 20))), "sizes rounded up to 4 KiB");
            Assert.That(info.FreeSize, Is.Zero);
            Assert.That(info.Label(), Is.EqualTo("Qcow2Mount"));
        });
    }

    [Test]
    public void ReadDirectory_Root_ListsOneRawFilePerImageSortedWithSizesThenEndMarker()
    {
        string b = Images.WithData(_dir, "zeta.qcow2", size: 1 << 20);
        string a = Images.WithData(_dir, "Alpha.img");
        using var shim = MountedShim.Mount(false, b, a);
        nint root = shim.OpenOrFail("\\");
        Assert.That(shim.ReadDirectory(root, null, 4096, out var entries, out bool ended), Is.EqualTo(NtStatus.Success));
        Assert.Multiple(() =>
        {
            Assert.That(entries.Select(e => e.Name), Is.EqualTo(new[] { "Alpha.img.raw", "zeta.raw" }));
            Assert.That(entries.Select(e => e.Info.FileSize), Is.EqualTo(new[] { (ulong)Images.OddSize, 1UL << 20 }));
            Assert.That(entries.Select(e => e.Info.FileAttributes), Is.All.EqualTo(FileAttributeNormal));
            Assert.That(ended, Is.True, "end marker after the last entry");
        });
    }

    [Test]
    public void ReadDirectory_BufferForOneEntry_ReturnsOneWithoutEndMarkerThenContinuesAfterMarker()
    {
        using var shim = MountedShim.Mount(false, Images.WithData(_dir, "a.qcow2", 1 << 20), Images.WithData(_dir, "b.qcow2", 1 << 20));
        nint root = shim.OpenOrFail("\\");
        Assert.That(shim.ReadDirectory(root, null, 120, out var first, out bool firstEnded), Is.EqualTo(NtStatus.Success));
        Assert.That(shim.ReadDirectory(root, first.Single().Name, 4096, out var rest, out bool restEnded), Is.EqualTo(NtStatus.Success));
        Assert.Multiple(() =>
        {
            Assert.That(first.Select(e => e.Name), Is.EqualTo(new[] { "a.raw" }));
            Assert.That(firstEnded, Is.False, "a full buffer ends the batch without the end marker");
            Assert.That(rest.Select(e => e.Name), Is.EqualTo(new[] { "b.raw" }), "names after the marker (case-insensitive order)");
            Assert.That(restEnded, Is.True);
        });
    }

    /// <summary>Windows compares names ignoring case: an image whose raw name differs from another's only in case gets the next free name, and both are shown.</summary>
    [Test]
    public void ReadDirectory_RawNamesDifferingOnlyInCase_SecondGetsAFreeNameAndBothOpen()
    {
        string first = Images.WithData(_dir, "Disk.qcow2", 1 << 20);
        string second = Images.WithData(_dir, "disk.qcow2", 2 << 20);
        using var shim = MountedShim.Mount(false, first, second);
        nint root = shim.OpenOrFail("\\");
        Assert.That(shim.ReadDirectory(root, null, 4096, out var entries, out _), Is.EqualTo(NtStatus.Success));
        Assert.Multiple(() =>
        {
            Assert.That(entries.Select(e => (e.Name, e.Info.FileSize)), Is.EqualTo(new[] { ("disk-2.raw", 2UL << 20), ("Disk.raw", 1UL << 20) }), "listed in case-insensitive order");
            Assert.That(shim.Open("\\DISK-2.RAW", out _, out var info), Is.EqualTo(NtStatus.Success));
            Assert.That(info.FileSize, Is.EqualTo(2UL << 20));
        });
    }

    /// <summary>
    /// A --snapshots mount as the mount server opens it for WinFsp (ImageDirectory.Open without case-sensitive names, the
    /// Vfs code the FUSE host gets too): the snapshot files carry the documented names, found ignoring case, read what
    /// qemu-img convert -l writes, and refuse write access.
    /// </summary>
    [Test]
    public void ReadDirectory_SnapshotsMount_DocumentedNamesOpenIgnoringCaseReadOnlyAndReadLikeQemu()
    {
        string image = _dir.File("disk.qcow2");
        QemuTools.Create(image, 1 << 20);
        QemuTools.QemuIo(image, "write -P 0x11 0 64k");
        QemuTools.CreateSnapshot(image, "Base");
        QemuTools.QemuIo(image, "write -P 0x22 0 64k");
        QemuTools.CreateSnapshot(image, "base");
        QemuTools.CreateSnapshot(image, "a/b:c");
        var directory = Core.Vfs.ImageDirectory.Open([image], null, new Core.ImageOpenOptions(), caseSensitiveNames: false, snapshots: new Core.Vfs.SnapshotMount { All = true });
        using var shim = MountedShim.Mount(directory);
        nint root = shim.OpenOrFail("\\");
        Assert.That(shim.ReadDirectory(root, null, 4096, out var entries, out _), Is.EqualTo(NtStatus.Success));
        Assert.Multiple(() =>
        {
            Assert.That(entries.Select(e => e.Name), Is.EqualTo(new[] { "disk.raw", "disk@a%2Fb%3Ac.raw", "disk@base-2.raw", "disk@Base.raw" }), "listed in case-insensitive order");
            Assert.That(shim.Open("\\DISK@BASE-2.RAW", out _, out _, MountedShim.WriteAccess), Is.Not.EqualTo(NtStatus.Success), "a snapshot file refuses write access");
            foreach (var (file, snapshot) in new[] { ("\\disk@BASE.raw", "Base"), ("\\Disk@Base-2.Raw", "base"), ("\\disk@a%2fb%3ac.raw", "a/b:c") })
            {
                nint context = shim.OpenOrFail(file);
                var bytes = new byte[1 << 20];
                Assert.That(shim.Read(context, 0, bytes, out uint read), Is.EqualTo(NtStatus.Success));
                Assert.That(read, Is.EqualTo((uint)bytes.Length), file);
                Assert.That(bytes, Is.EqualTo(SnapshotImages.QemuSnapshotRaw(image, snapshot, 1 << 20)), $"{file} reads snapshot {snapshot}");
            }
        });
    }

    [Test]
    public void ReadDirectory_OnFile_NotADirectory()
    {
        using var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2", 1 << 20));
        nint file = shim.OpenOrFail("\\disk.raw");
        Assert.That(shim.ReadDirectory(file, null, 4096, out _, out _), Is.EqualTo(NtStatus.NotADirectory));
    }

    [Test]
    public void Open_Names_FoundIgnoringCaseOtherwiseNotFound()
    {
        using var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2"));
        Assert.Multiple(() =>
        {
            Assert.That(shim.Open("\\disk.raw", out _, out var info), Is.EqualTo(NtStatus.Success));
            Assert.That(info.FileSize, Is.EqualTo((ulong)Images.OddSize));
            Assert.That(info.AllocationSize, Is.EqualTo((ulong)Images.OddSize + 4096 - 1536));
            Assert.That(info.FileAttributes, Is.EqualTo(FileAttributeNormal));
            Assert.That(shim.Open("\\DISK.RAW", out _, out _), Is.EqualTo(NtStatus.Success));
            Assert.That(shim.Open("\\", out _, out var root), Is.EqualTo(NtStatus.Success));
            Assert.That(root.FileAttributes, Is.EqualTo(FileAttributeDirectory));
            Assert.That(shim.Open("\\missing.raw", out _, out _), Is.EqualTo(NtStatus.ObjectNameNotFound));
            Assert.That(shim.Open("\\disk.qcow2", out _, out _), Is.EqualTo(NtStatus.ObjectNameNotFound));
            Assert.That(shim.Open("\\disk.raw\\inner", out _, out _), Is.EqualTo(NtStatus.ObjectPathNotFound));
            Assert.That(shim.Open("\\disk.raw", out _, out _, createOptions: FileDirectoryFile), Is.EqualTo(NtStatus.NotADirectory));
            Assert.That(shim.Open("\\", out _, out _, createOptions: FileNonDirectoryFile), Is.EqualTo(NtStatus.FileIsADirectory));
        });
    }

    [Test]
    public void GetSecurityByName_SizeTooSmallThenLargeEnough_OverflowThenDescriptor()
    {
        using var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2", 1 << 20));
        int needed = TestOwner.Descriptor.Bytes.Length;
        Assert.Multiple(() =>
        {
            Assert.That(shim.SecurityByName("\\disk.raw", out uint attributes, 0, out _, out nuint size), Is.EqualTo(NtStatus.BufferOverflow));
            Assert.That(size, Is.EqualTo((nuint)needed), "the needed size is reported");
            Assert.That(attributes, Is.EqualTo(FileAttributeNormal));
            Assert.That(shim.SecurityByName("\\disk.raw", out _, (nuint)needed, out byte[] sd, out size), Is.EqualTo(NtStatus.Success));
            Assert.That(sd, Is.EqualTo(TestOwner.Descriptor.Bytes.ToArray()));
            Assert.That(shim.SecurityByName("\\", out uint rootAttributes, null, out _, out _), Is.EqualTo(NtStatus.Success), "no size pointer: attributes only");
            Assert.That(rootAttributes, Is.EqualTo(FileAttributeDirectory));
            Assert.That(shim.SecurityByName("\\missing.raw", out _, 1024, out _, out _), Is.EqualTo(NtStatus.ObjectNameNotFound));
        });
    }

    [Test]
    public void Read_WholeDiskInChunksCrossingTheEnd_EqualsQemuImgConvert([Values(4096, 65536, 1 << 20)] int chunk)
    {
        string image = Images.WithData(_dir, "disk.qcow2");
        byte[] expected = Images.RawBytes(_dir, image);
        using var shim = MountedShim.Mount(true, image);
        nint file = shim.OpenOrFail("\\disk.raw");
        byte[] actual = shim.ReadAll(file, Images.OddSize, chunk);
        Assert.That(actual.AsSpan().SequenceEqual(expected), Is.True, "bytes read through the callbacks equal qemu-img convert -O raw");
    }

    [Test]
    public void Read_AtOrAfterEnd_EndOfFileAndAcrossEnd_Clipped()
    {
        string image = Images.WithData(_dir, "disk.qcow2");
        byte[] expected = Images.RawBytes(_dir, image);
        using var shim = MountedShim.Mount(false, image);
        nint file = shim.OpenOrFail("\\disk.raw");
        var buffer = new byte[65536];
        Assert.Multiple(() =>
        {
            Assert.That(shim.Read(file, Images.OddSize, buffer, out uint atEnd), Is.EqualTo(NtStatus.EndOfFile));
            Assert.That(atEnd, Is.Zero);
            Assert.That(shim.Read(file, Images.OddSize + 1_000_000, buffer, out _), Is.EqualTo(NtStatus.EndOfFile));
            Assert.That(shim.Read(file, Images.OddSize - 100, buffer, out uint across), Is.EqualTo(NtStatus.Success));
            Assert.That(across, Is.EqualTo(100u));
            Assert.That(buffer.AsSpan(0, 100).SequenceEqual(expected.AsSpan((int)Images.OddSize - 100)), Is.True);
        });
    }

    [Test]
    public void Write_InsideDisk_ImageChecksCleanAndEqualsQemuIoTwin()
    {
        string image = Images.WithData(_dir, "disk.qcow2");
        string twin = _dir.File("twin.qcow2");
        File.Copy(image, twin);
        var writes = new (long Offset, int Length, byte Value)[] { (0, 4096, 0x11), (70_000, 5000, 0x22), ((2L << 20) - 512, 1024, 0x33), (Images.OddSize - 512, 512, 0x44) };
        using (var shim = MountedShim.Mount(false, image))
        {
            nint file = shim.OpenOrFail("\\disk.raw", MountedShim.WriteAccess);
            foreach (var (offset, length, value) in writes)
            {
                byte[] data = Enumerable.Repeat(value, length).ToArray();
                Assert.That(shim.Write(file, offset, data, out uint n, out var info), Is.EqualTo(NtStatus.Success), $"write at {offset}");
                Assert.That(n, Is.EqualTo((uint)length));
                Assert.That(info.FileSize, Is.EqualTo((ulong)Images.OddSize), "the size never changes");
            }

            shim.Cleanup(file, CleanupSetLastWriteTime);
            shim.Close(file);
        }

        QemuTools.QemuIo(twin, writes.Select(w => $"write -P {w.Value} {w.Offset} {w.Length}").ToArray());
        var check = QemuTools.Check(image);
        Assert.Multiple(() =>
        {
            Assert.That(check.Corruptions + check.Leaks + check.CheckErrors, Is.Zero, check.Output);
            Assert.That(QemuTools.CompareResult(image, twin, "qcow2", "qcow2").ExitCode, Is.Zero, "qemu-img compare with the qemu-io twin");
        });
    }

    [Test]
    public void Write_PastOrAcrossEnd_DiskFullAndNothingWritten()
    {
        string image = Images.WithData(_dir, "disk.qcow2");
        byte[] before = Images.RawBytes(_dir, image);
        using (var shim = MountedShim.Mount(false, image))
        {
            nint file = shim.OpenOrFail("\\disk.raw", MountedShim.WriteAccess);
            byte[] data = Enumerable.Repeat((byte)0xEE, 8192).ToArray();
            Assert.Multiple(() =>
            {
                Assert.That(shim.Write(file, Images.OddSize, data, out uint n1, out _), Is.EqualTo(NtStatus.DiskFull), "at the end");
                Assert.That(n1, Is.Zero);
                Assert.That(shim.Write(file, Images.OddSize - 4096, data, out uint n2, out _), Is.EqualTo(NtStatus.DiskFull), "across the end");
                Assert.That(n2, Is.Zero);
                Assert.That(shim.Write(file, 0, data, out _, out _, writeToEndOfFile: true), Is.EqualTo(NtStatus.DiskFull), "append");
            });
        }

        Assert.That(Images.RawBytes(_dir, image), Is.EqualTo(before), "no byte changed");
    }

    [Test]
    public void Write_ConstrainedIoAcrossEnd_ClippedAndAtEnd_NothingWritten()
    {
        string image = Images.WithData(_dir, "disk.qcow2");
        using (var shim = MountedShim.Mount(false, image))
        {
            nint file = shim.OpenOrFail("\\disk.raw", MountedShim.WriteAccess);
            byte[] data = Enumerable.Repeat((byte)0x77, 8192).ToArray();
            Assert.Multiple(() =>
            {
                Assert.That(shim.Write(file, Images.OddSize - 1536, data, out uint across, out _, constrainedIo: true), Is.EqualTo(NtStatus.Success));
                Assert.That(across, Is.EqualTo(1536u), "paging write clipped at the end");
                Assert.That(shim.Write(file, Images.OddSize, data, out uint atEnd, out _, constrainedIo: true), Is.EqualTo(NtStatus.Success));
                Assert.That(atEnd, Is.Zero);
            });
        }

        byte[] after = Images.RawBytes(_dir, image);
        Assert.Multiple(() =>
        {
            Assert.That(after, Has.Length.EqualTo(Images.OddSize));
            Assert.That(after.AsSpan((int)Images.OddSize - 1536).ToArray(), Is.All.EqualTo((byte)0x77));
        });
    }

    [Test]
    public void SetFileSize_SameGrowShrinkAllocation_OnlySameSizeAndAllocationSucceed()
    {
        using var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2"));
        nint file = shim.OpenOrFail("\\disk.raw", MountedShim.WriteAccess);
        Assert.Multiple(() =>
        {
            Assert.That(shim.SetFileSize(file, (ulong)Images.OddSize), Is.EqualTo(NtStatus.Success));
            Assert.That(shim.SetFileSize(file, (ulong)Images.OddSize + 1), Is.EqualTo(NtStatus.DiskFull));
            Assert.That(shim.SetFileSize(file, 0), Is.EqualTo(NtStatus.AccessDenied));
            Assert.That(shim.SetFileSize(file, 1 << 30, allocationSize: true), Is.EqualTo(NtStatus.Success));
            Assert.That(shim.Overwrite(file), Is.EqualTo(NtStatus.AccessDenied), "overwrite would truncate the disk");
            Assert.That(shim.FileInfo(file, out var info), Is.EqualTo(NtStatus.Success));
            Assert.That(info.FileSize, Is.EqualTo((ulong)Images.OddSize));
        });
    }

    /// <summary>An allocation size below the file size would cut the file (WinFsp file systems truncate then): refused like a shrink.</summary>
    [Test]
    public void SetFileSize_AllocationBelowSize_AccessDeniedAndSizeKept()
    {
        using var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2"));
        nint file = shim.OpenOrFail("\\disk.raw", MountedShim.WriteAccess);
        Assert.Multiple(() =>
        {
            Assert.That(shim.SetFileSize(file, 4096, allocationSize: true), Is.EqualTo(NtStatus.AccessDenied));
            Assert.That(shim.SetFileSize(file, (ulong)Images.OddSize, allocationSize: true), Is.EqualTo(NtStatus.Success));
            Assert.That(shim.FileInfo(file, out var info), Is.EqualTo(NtStatus.Success));
            Assert.That(info.FileSize, Is.EqualTo((ulong)Images.OddSize));
        });
    }

    [TestCase(true, TestName = "Changes_OnReadOnlyMountOfReadOnlyDisk_MediaWriteProtectedAndImageUntouched")]
    [TestCase(false, TestName = "Changes_OnReadOnlyMountOfWritableDisk_MediaWriteProtectedAndImageUntouched")]
    public void Changes_OnReadOnlyMount_MediaWriteProtectedAndImageUntouched(bool disksReadOnly)
    {
        string image = Images.WithData(_dir, "disk.qcow2");
        byte[] before = File.ReadAllBytes(image);
        using (var shim = disksReadOnly ? MountedShim.Mount(true, image) : MountedShim.MountReadOnlyOverWritableDisks(image))
        {
            nint file = shim.OpenOrFail("\\disk.raw");
            Assert.That(shim.VolumeInfo(out _), Is.EqualTo(NtStatus.Success));
            Assert.Multiple(() =>
            {
                Assert.That(shim.Api.Params.Flags & VolumeFlags.ReadOnlyVolume, Is.EqualTo(VolumeFlags.ReadOnlyVolume));
                Assert.That(shim.Open("\\disk.raw", out _, out _, MountedShim.WriteAccess), Is.EqualTo(NtStatus.MediaWriteProtected));
                Assert.That(shim.Open("\\disk.raw", out _, out var info), Is.EqualTo(NtStatus.Success));
                Assert.That(info.FileAttributes, Is.EqualTo(FileAttributeReadOnly));
                Assert.That(shim.Write(file, 0, new byte[512], out _, out _), Is.EqualTo(NtStatus.MediaWriteProtected));
                Assert.That(shim.Write(file, 0, new byte[512], out _, out _, constrainedIo: true), Is.EqualTo(NtStatus.MediaWriteProtected));
                Assert.That(shim.SetFileSize(file, (ulong)Images.OddSize), Is.EqualTo(NtStatus.MediaWriteProtected));
                Assert.That(shim.SetBasicInfo(file, 1, 1, 1, 1, out _), Is.EqualTo(NtStatus.MediaWriteProtected));
                Assert.That(shim.Overwrite(file), Is.EqualTo(NtStatus.MediaWriteProtected));
                Assert.That(shim.Create("\\new.raw"), Is.EqualTo(NtStatus.MediaWriteProtected));
                Assert.That(shim.SetDelete(file, true), Is.EqualTo(NtStatus.MediaWriteProtected));
                Assert.That(shim.Rename(file, "\\other.raw"), Is.EqualTo(NtStatus.MediaWriteProtected));
                Assert.That(shim.SetSecurity(file), Is.EqualTo(NtStatus.MediaWriteProtected));
                Assert.That(shim.SetVolumeLabel("x"), Is.EqualTo(NtStatus.MediaWriteProtected));
                Assert.That(shim.Flush(file), Is.EqualTo(NtStatus.Success), "nothing to flush");
                Assert.That(shim.Disks[0].FlushCount, Is.Zero, "a read-only mount never flushes");
            });
            shim.Cleanup(file, CleanupSetLastWriteTime | CleanupSetChangeTime);
            shim.Close(file);
        }

        Assert.That(File.ReadAllBytes(image), Is.EqualTo(before), "the qcow2 file is byte for byte unchanged");
    }

    [Test]
    public void CreateDeleteRename_OnWritableMount_Refused()
    {
        using var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2", 1 << 20));
        nint file = shim.OpenOrFail("\\disk.raw", MountedShim.WriteAccess);
        Assert.Multiple(() =>
        {
            Assert.That(shim.Create("\\new.raw"), Is.EqualTo(NtStatus.AccessDenied));
            Assert.That(shim.Create("\\disk.raw"), Is.EqualTo(NtStatus.ObjectNameCollision));
            Assert.That(shim.SetDelete(file, true), Is.EqualTo(NtStatus.CannotDelete));
            Assert.That(shim.SetDelete(file, false), Is.EqualTo(NtStatus.Success), "clearing the delete flag");
            Assert.That(shim.CanDelete(file), Is.EqualTo(NtStatus.CannotDelete));
            Assert.That(shim.Rename(file, "\\other.raw"), Is.EqualTo(NtStatus.AccessDenied));
            Assert.That(shim.GetSecurity(file, out byte[] sd), Is.EqualTo(NtStatus.Success));
            Assert.That(sd, Is.EqualTo(TestOwner.Descriptor.Bytes.ToArray()));
        });
    }

    [Test]
    public void Flush_FileAndVolume_ReachTheEngine()
    {
        using var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2", 1 << 20));
        nint file = shim.OpenOrFail("\\disk.raw", MountedShim.WriteAccess);
        Assert.That(shim.Flush(file), Is.EqualTo(NtStatus.Success));
        Assert.That(shim.Disks[0].FlushCount, Is.EqualTo(1), "FlushFileBuffers on the file");
        Assert.That(shim.Flush(0), Is.EqualTo(NtStatus.Success));
        Assert.That(shim.Disks[0].FlushCount, Is.EqualTo(2), "FlushFileBuffers on the volume");
    }

    [Test]
    public void Cleanup_AfterWrite_FlushesAndAfterReadOnlyOpen_DoesNot()
    {
        using var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2", 1 << 20));
        nint reader = shim.OpenOrFail("\\disk.raw");
        shim.Read(reader, 0, new byte[4096], out _);
        shim.Cleanup(reader, 0);
        Assert.That(shim.Disks[0].FlushCount, Is.Zero);
        nint writer = shim.OpenOrFail("\\disk.raw", MountedShim.WriteAccess);
        shim.Write(writer, 0, new byte[4096], out _, out _);
        shim.Cleanup(writer, CleanupSetLastWriteTime);
        Assert.That(shim.Disks[0].FlushCount, Is.EqualTo(1), "what a handle wrote is durable once it is closed");
    }

    [Test]
    public void Close_ThenUse_InvalidHandleAndOpenCountBackToZero()
    {
        using var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2", 1 << 20));
        nint file = shim.OpenOrFail("\\disk.raw");
        shim.Cleanup(file, 0);
        shim.Close(file);
        Assert.Multiple(() =>
        {
            Assert.That(shim.Host.FileSystem.OpenCount, Is.Zero);
            Assert.That(shim.Read(file, 0, new byte[512], out _), Is.EqualTo(NtStatus.InvalidHandle));
            Assert.That(shim.FileInfo(file, out _), Is.EqualTo(NtStatus.InvalidHandle));
        });
    }

    [Test]
    public void SetBasicInfo_Times_StoredAndZeroLeavesUnchanged()
    {
        using var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2", 1 << 20));
        nint file = shim.OpenOrFail("\\disk.raw", MountedShim.WriteAccess);
        shim.FileInfo(file, out var before);
        ulong t1 = (ulong)new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc).ToFileTimeUtc();
        ulong t2 = (ulong)new DateTime(2011, 2, 3, 4, 5, 6, DateTimeKind.Utc).ToFileTimeUtc();
        Assert.That(shim.SetBasicInfo(file, t1, 0, t2, 0, out var set), Is.EqualTo(NtStatus.Success));
        shim.FileInfo(file, out var after);
        Assert.Multiple(() =>
        {
            Assert.That(after.CreationTime, Is.EqualTo(t1));
            Assert.That(after.LastWriteTime, Is.EqualTo(t2));
            Assert.That(after.LastAccessTime, Is.EqualTo(before.LastAccessTime), "0 = unchanged");
            Assert.That(after.ChangeTime, Is.EqualTo(before.ChangeTime), "0 = unchanged");
            Assert.That(set.LastWriteTime, Is.EqualTo(t2), "SetBasicInfo returns the new info");
            Assert.That(shim.Host.FileSystem.Vfs.Files[0].Times.Modified.ToFileTimeUtc(), Is.EqualTo((long)t2), "the image's modification time");
        });
    }

    [Test]
    public void Write_UpdatesLastWriteTime()
    {
        using var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2", 1 << 20));
        nint file = shim.OpenOrFail("\\disk.raw", MountedShim.WriteAccess);
        shim.SetBasicInfo(file, 0, 0, 1000, 1000, out _);
        Assert.That(shim.Write(file, 0, new byte[512], out _, out var info), Is.EqualTo(NtStatus.Success));
        Assert.That(info.LastWriteTime, Is.GreaterThan((ulong)DateTime.UtcNow.AddMinutes(-5).ToFileTimeUtc()));
    }
}
