using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.Fuse.Tests.Support;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>
/// The QEMU-compatible OFD locks: among our own openers (two handles are two open file descriptions, so they
/// conflict even inside one process) and against QEMU's tools.
/// </summary>
[Category(TestCategories.Mount)]
public sealed class ImageFileLockTests : ScratchFixture
{
    [OneTimeSetUp]
    public void RequireTools() => RequiredTools.Require("qemu-storage-daemon");

    private readonly List<SafeFileHandle> _handles = [];

    [TearDown]
    public void CloseHandles() => _handles.ForEach(h => h.Dispose());

    /// <summary>Opens one small image <paramref name="count"/> times: each handle is its own open file description.</summary>
    private SafeFileHandle[] Openers(int count)
    {
        string image = Scratch.PathOf("disk.img");
        if (!File.Exists(image))
        {
            Scratch.RawImage("disk.img", 4096);
        }

        var handles = Enumerable.Range(0, count).Select(_ => File.OpenHandle(image, FileMode.Open, FileAccess.Read, FileShare.ReadWrite)).ToArray();
        _handles.AddRange(handles);
        return handles;
    }

    [Test]
    public void Acquire_Writer_LocksQemuWriterBytes()
    {
        var handle = Openers(1)[0];
        using var writer = ImageFileLock.Acquire(handle, "disk.img", write: true);
        Assert.That(writer.Bytes, Is.EqualTo(new long[] { 100, 101, 103, 201, 203 }).AsCollection);
    }

    [Test]
    public void Acquire_Reader_LocksQemuReaderBytes()
    {
        var handle = Openers(1)[0];
        using var reader = ImageFileLock.Acquire(handle, "disk.img", write: false);
        Assert.That(reader.Bytes, Is.EqualTo(new long[] { 100, 201, 203 }).AsCollection);
    }

    [Test]
    public void Acquire_TwoReaders_Coexist()
    {
        var openers = Openers(2);
        using var r1 = ImageFileLock.Acquire(openers[0], "disk.img", write: false);
        Assert.DoesNotThrow(() => ImageFileLock.Acquire(openers[1], "disk.img", write: false).Dispose());
    }

    [Test]
    public void Acquire_WriterThenWriter_WriteLockConflict()
    {
        var openers = Openers(2);
        using var w1 = ImageFileLock.Acquire(openers[0], "disk.img", write: true);
        var e = Assert.Throws<ImageLockedException>(() => ImageFileLock.Acquire(openers[1], "disk.img", write: true));
        Assert.That(e!.Message, Is.EqualTo("disk.img: image is in use by another process (failed to get \"write\" lock)"));
    }

    [Test]
    public void Acquire_WriterThenReader_SharedWriteLockConflict()
    {
        var openers = Openers(2);
        using var w1 = ImageFileLock.Acquire(openers[0], "disk.img", write: true);
        var e = Assert.Throws<ImageLockedException>(() => ImageFileLock.Acquire(openers[1], "disk.img", write: false));
        Assert.That(e!.Message, Does.Contain("failed to get shared \"write\" lock"));
    }

    [Test]
    public void Acquire_ReaderThenWriter_Conflict()
    {
        var openers = Openers(2);
        using var r1 = ImageFileLock.Acquire(openers[0], "disk.img", write: false);
        Assert.Throws<ImageLockedException>(() => ImageFileLock.Acquire(openers[1], "disk.img", write: true));
    }

    [Test]
    public void Dispose_Writer_ReleasesForTheNextWriter()
    {
        var openers = Openers(2);
        ImageFileLock.Acquire(openers[0], "disk.img", write: true).Dispose();
        Assert.DoesNotThrow(() => ImageFileLock.Acquire(openers[1], "disk.img", write: true).Dispose());
    }

    [Test]
    public void Acquire_FailedAttempt_LeavesNoLocksBehind()
    {
        var openers = Openers(3);
        var w1 = ImageFileLock.Acquire(openers[0], "disk.img", write: true);
        Assert.Throws<ImageLockedException>(() => ImageFileLock.Acquire(openers[1], "disk.img", write: true));
        w1.Dispose();
        Assert.DoesNotThrow(() => ImageFileLock.Acquire(openers[2], "disk.img", write: true).Dispose());
    }

    [Test]
    public void Lock_WritableMount_QemuIoCannotOpenForWriting()
    {
        string image = Scratch.RawImage("disk.img", 1 << 20);
        Cli.Mount(image, Scratch.NewDirectory("mnt"));

        var qemu = ProcessRunner.Capture("qemu-io", "-f", "raw", "-c", "read 0 512", image);

        Assert.That(qemu.ExitCode, Is.Not.Zero);
        Assert.That(qemu.StandardError, Does.Contain("Failed to get \"write\" lock"));
    }

    [Test]
    public void Lock_WritableMount_QemuImgInfoNeedsForceShare()
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "1M");
        Cli.Mount(image, Scratch.NewDirectory("mnt"));

        var locked = ProcessRunner.Capture("qemu-img", "info", image);
        var forced = ProcessRunner.Capture("qemu-img", "info", "-U", image);

        Assert.Multiple(() =>
        {
            Assert.That(locked.ExitCode, Is.Not.Zero);
            Assert.That(locked.StandardError, Does.Contain("Failed to get shared \"write\" lock"));
            Assert.That(forced.ExitCode, Is.Zero, forced.ToString());
        });
    }

    [Test]
    public void Lock_WritableOverlayMount_BackingFileSharedForReadingOnly()
    {
        string baseImage = Images.Qcow2(Scratch, "base.qcow2", "1M");
        string overlay = Scratch.PathOf("overlay.qcow2");
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", baseImage, "-F", "qcow2", overlay);
        Cli.Mount(overlay, Scratch.NewDirectory("mnt"));

        var write = ProcessRunner.Capture("qemu-io", "-f", "qcow2", "-c", "write 0 512", baseImage);
        var read = ProcessRunner.Capture("qemu-img", "check", baseImage);

        Assert.Multiple(() =>
        {
            Assert.That(write.ExitCode, Is.Not.Zero, "a backing layer in use must not be writable by QEMU");
            Assert.That(write.StandardError, Does.Contain("Failed to get \"write\" lock"));
            Assert.That(read.ExitCode, Is.Zero, read.ToString());
        });
    }

    [Test]
    public void Lock_ReadOnlyMount_QemuReadersCoexist()
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "1M");
        Cli.Mount("--read-only", image, Scratch.NewDirectory("mnt"));

        var info = ProcessRunner.Capture("qemu-img", "info", image);
        var check = ProcessRunner.Capture("qemu-img", "check", image);

        Assert.That(info.ExitCode, Is.Zero, info.ToString());
        Assert.That(check.ExitCode, Is.Zero, check.ToString());
    }

    [Test]
    public void Lock_ImageServedByQemuStorageDaemon_MountRefused()
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "1M");
        string socket = Scratch.PathOf("nbd.sock");
        using var daemon = BackgroundProcess.Start("qemu-storage-daemon",
        [
            "--nbd-server", $"addr.type=unix,addr.path={socket}",
            "--blockdev", $"driver=file,filename={image},node-name=file0",
            "--blockdev", "driver=qcow2,file=file0,node-name=disk0",
            "--export", "type=nbd,id=export0,node-name=disk0,writable=on",
        ]);
        daemon.WaitUntil(() => File.Exists(socket), "its NBD socket");
        string mnt = Scratch.NewDirectory("mnt");

        var writable = Cli.Run(image, mnt);
        var readOnly = Cli.Run("-r", image, mnt);

        Assert.Multiple(() =>
        {
            Assert.That(writable.ExitCode, Is.EqualTo(2), writable.ToString());
            Assert.That(writable.StandardError, Does.Contain("image is in use by another process"));
            Assert.That(readOnly.ExitCode, Is.EqualTo(2), readOnly.ToString());
            Assert.That(readOnly.StandardError, Does.Contain("failed to get shared \"write\" lock"));
            Assert.That(Scratch.MountsUnder(mnt), Is.Empty);
        });
    }
}
