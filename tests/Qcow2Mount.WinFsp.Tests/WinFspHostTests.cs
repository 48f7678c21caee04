using Moq;
using Qcow2Mount.Core;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.TestSupport;
using Qcow2Mount.WinFsp.Interop;
using Qcow2Mount.WinFsp.Tests.Support;

namespace Qcow2Mount.WinFsp.Tests;

/// <summary>The host's life cycle against the IWinFspApi seam: what it hands to WinFsp, the order of the calls, and failure paths.</summary>
[Category(TestCategories.Unit)]
public sealed class WinFspHostTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir("winfsp-host");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public void Mount_Writable_CreateSetMountPointStartWithVersion1ParamsAndDiskDevice()
    {
        using var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2", 1 << 20));
        var p = shim.Api.Params;
        Assert.Multiple(() =>
        {
            Assert.That(shim.Api.Calls, Is.EqualTo(new[] { "Create", "SetMountPoint(null)", "StartDispatcher" }));
            Assert.That(shim.Api.DevicePath, Is.EqualTo("WinFsp.Disk"));
            Assert.That(p.Version, Is.EqualTo(504), "Version = sizeof(FSP_FSCTL_VOLUME_PARAMS) selects V1");
            Assert.That(p.SectorSize, Is.EqualTo(4096));
            Assert.That(p.SectorsPerAllocationUnit, Is.EqualTo(1));
            Assert.That(p.MaxComponentLength, Is.EqualTo(255));
            Assert.That(p.FileInfoTimeout, Is.EqualTo(1000));
            Assert.That(p.VolumeCreationTime, Is.GreaterThan((ulong)DateTime.UtcNow.AddMinutes(-5).ToFileTimeUtc()));
            Assert.That(p.Flags, Is.EqualTo(VolumeFlags.CasePreservedNames | VolumeFlags.UnicodeOnDisk | VolumeFlags.PersistentAcls
                | VolumeFlags.PostCleanupWhenModifiedOnly | VolumeFlags.UmFileContextIsUserContext2));
            Assert.That(FileSystemName(p), Is.EqualTo("Qcow2Mount"));
            Assert.That(shim.Host.MountPoint, Is.EqualTo("Q:"), "the letter WinFsp picked is read back");
        });
    }

    [Test]
    public void Mount_ReadOnlyOrReadOnlyDisk_SetsReadOnlyVolumeFlag()
    {
        using var shim = MountedShim.Mount(true, Images.WithData(_dir, "disk.qcow2", 1 << 20));
        Assert.That(shim.Api.Params.Flags & VolumeFlags.ReadOnlyVolume, Is.EqualTo(VolumeFlags.ReadOnlyVolume));
    }

    [Test]
    public void Unmount_AfterWrite_StopsDispatcherThenFlushesThenRemovesMountPointDeletesAndDisposes()
    {
        var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2", 1 << 20));
        nint file = shim.OpenOrFail("\\disk.raw", MountedShim.WriteAccess);
        shim.Write(file, 0, new byte[4096], out _, out _);
        shim.Log.Clear();
        shim.Dispose();
        Assert.Multiple(() =>
        {
            Assert.That(shim.Log, Is.EqualTo(new[] { "StopDispatcher", "flush disk.raw", "RemoveMountPoint", "Delete", "dispose disk.raw" }));
            Assert.That(shim.Host.Stopped.WaitOne(0), Is.True, "Stopped is set once the host is down");
        });
    }

    [Test]
    public void Unmount_Twice_TearsDownOnce()
    {
        var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2", 1 << 20));
        shim.Host.Unmount();
        int calls = shim.Log.Count;
        shim.Host.Unmount();
        Assert.That(shim.Log, Has.Count.EqualTo(calls));
        shim.Api.Dispose();
    }

    [Test]
    public void Unmount_FlushFails_FinishesTeardownThenThrows()
    {
        var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2", 1 << 20));
        shim.Disks[0].Failure = new IOException("disk gone");
        var error = Assert.Throws<IOException>(shim.Host.Unmount);
        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Is.EqualTo("disk gone"));
            Assert.That(shim.Log, Does.Contain("Delete").And.Contain("dispose disk.raw"));
            Assert.That(shim.Messages, Has.Some.Contains("flush before unmount failed: disk gone"));
        });
        shim.Api.Dispose();
    }

    [Test]
    public void Callbacks_FindTheFileSystemThroughUserContext()
    {
        using var shim = MountedShim.Mount(false, Images.WithData(_dir, "disk.qcow2", 1 << 20));
        Assert.That(WinFspCallbacks.Target(shim.Api.FileSystem), Is.SameAs(shim.Host.FileSystem));
    }

    [Test]
    public void Mount_CreateFails_ThrowsWithStatusAndCallsNothingElse()
    {
        var api = new Mock<IWinFspApi>(MockBehavior.Strict);
        nint none = 0;
        api.Setup(a => a.Create("WinFsp.Disk", It.IsAny<nint>(), It.IsAny<nint>(), out none)).Returns(unchecked((int)0xC0000034));
        using var host = new WinFspHost(api.Object, EmptyVolume(), _ => { }, TestOwner.Descriptor);
        var error = Assert.Throws<WinFspException>(() => host.Mount("Q:"));
        Assert.Multiple(() =>
        {
            Assert.That(error!.Status, Is.EqualTo(unchecked((int)0xC0000034)));
            Assert.That(error.Message, Is.EqualTo("FspFileSystemCreate failed with NTSTATUS 0xC0000034"));
        });
        api.VerifyAll();
    }

    [Test]
    public void Mount_SetMountPointFails_DeletesFileSystemAndThrows()
    {
        var log = new List<string>();
        using var api = new FakeWinFspApi(log) { SetMountPointStatus = unchecked((int)0xC0000035) };
        using var host = new WinFspHost(api, EmptyVolume(), _ => { }, TestOwner.Descriptor);
        var error = Assert.Throws<WinFspException>(() => host.Mount("Q:"));
        Assert.Multiple(() =>
        {
            Assert.That(error!.Message, Does.StartWith("FspFileSystemSetMountPoint(Q:) failed with NTSTATUS 0xC0000035"));
            Assert.That(log, Is.EqualTo(new[] { "Create", "SetMountPoint(Q:)", "Delete" }));
        });
    }

    [Test]
    public void Mount_StartDispatcherFails_RemovesMountPointDeletesAndThrows()
    {
        var log = new List<string>();
        using var api = new FakeWinFspApi(log) { StartDispatcherStatus = unchecked((int)0xC000009A) };
        using var host = new WinFspHost(api, EmptyVolume(), _ => { }, TestOwner.Descriptor);
        Assert.Throws<WinFspException>(() => host.Mount(null));
        Assert.That(log, Is.EqualTo(new[] { "Create", "SetMountPoint(null)", "StartDispatcher", "RemoveMountPoint", "Delete" }));
    }

    [Test]
    public void Mount_Mock_SequenceCreateSetMountPointStart()
    {
        var api = new Mock<IWinFspApi>(MockBehavior.Strict);
        using var fs = new FakeWinFspApi();
        nint block = 0;
        var sequence = new MockSequence();
        api.InSequence(sequence).Setup(a => a.Create("WinFsp.Disk", It.IsAny<nint>(), It.IsAny<nint>(), out block))
            .Returns(new CreateCallback((string d, nint p, nint i, out nint f) => fs.Create(d, p, i, out f)));
        api.InSequence(sequence).Setup(a => a.SetMountPoint(It.IsAny<nint>(), "C:\\mnt\\disk")).Returns(0);
        api.InSequence(sequence).Setup(a => a.MountPoint(It.IsAny<nint>())).Returns("C:\\mnt\\disk");
        api.InSequence(sequence).Setup(a => a.StartDispatcher(It.IsAny<nint>(), 4)).Returns(0);
        api.InSequence(sequence).Setup(a => a.StopDispatcher(It.IsAny<nint>()));
        api.InSequence(sequence).Setup(a => a.RemoveMountPoint(It.IsAny<nint>()));
        api.InSequence(sequence).Setup(a => a.Delete(It.IsAny<nint>()));
        var host = new WinFspHost(api.Object, EmptyVolume(), _ => { }, TestOwner.Descriptor);
        host.Mount("C:\\mnt\\disk", 4);
        Assert.That(host.MountPoint, Is.EqualTo("C:\\mnt\\disk"));
        host.Dispose();
        api.Verify(a => a.Delete(fs.FileSystem), Times.Once);
    }

    /// <summary>A volume whose names compare with case could hold two names Windows cannot tell apart: refused before anything is mounted.</summary>
    [Test]
    public void Constructor_CaseSensitiveFileSystem_ArgumentExceptionAndNothingCalled()
    {
        var api = new Mock<IWinFspApi>(MockBehavior.Strict);
        using var directory = new ImageDirectory(caseSensitiveNames: true);
        var error = Assert.Throws<ArgumentException>(() => _ = new WinFspHost(api.Object, directory, _ => { }, TestOwner.Descriptor));
        Assert.That(error!.Message, Does.Contain("ignoring case"));
    }

    private delegate int CreateCallback(string devicePath, nint volumeParams, nint table, out nint fileSystem);

    private static unsafe string FileSystemName(VolumeParams p) => new(p.FileSystemName);

    private ImageDirectory EmptyVolume()
    {
        var directory = new ImageDirectory(caseSensitiveNames: false);
        string image = Images.WithData(_dir, $"e{Guid.NewGuid():N}.qcow2", 1 << 20);
        directory.Add(image, DiskImage.Open(image, new ImageOpenOptions()));
        return directory;
    }
}
