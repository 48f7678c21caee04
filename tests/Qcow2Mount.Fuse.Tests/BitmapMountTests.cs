using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Qcow2Mount.Fuse.Tests.Support;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>
/// Persistent dirty bitmaps through real mounts: what the mount wrote, zeroed and punched is what QEMU's own reader
/// (qemu-nbd -B, the NBD dirty-bitmap context) calls dirty after the unmount; the bitmap is consistent (no in-use) and
/// qemu-img check finds no leak; a disabled bitmap is untouched; a server killed while mounted leaves the bitmap
/// in-use, as QEMU leaves it; a read-only mount changes no byte.
/// </summary>
[Category(TestCategories.Mount)]
[Category(TestCategories.Slow)]
public sealed class BitmapMountTests : ScratchFixture
{
    private const long DiskSize = 64 << 20;

    /// <summary>4 KiB-aligned so the page cache cannot widen a write past what the test expects at 512-byte granularity.</summary>
    private static readonly (long Offset, int Length)[] Writes = [(1 << 20, 8192), ((33 << 20) - 4096, 12288), (60 << 20, 128 << 10)];

    private static readonly (long Offset, long Length) Punch = (4 << 20, 64 << 10);

    private static readonly (long Offset, long Length) ZeroRange = ((8 << 20) + 4096, 69632);

    [OneTimeSetUp]
    public void RequireTools() => RequiredTools.Require("qemu-img", "qemu-io", "qemu-nbd", "fallocate");

    [TestCase("64k", 65536)]
    [TestCase("4k", 4096)]
    [TestCase("512", 512)]
    public void MountWriteZeroPunch_Unmount_QemuSeesTheChangedGranulesInBothBitmapsAndDisabledOneUntouched(string granularity, long bytes)
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "64M");
        QemuTools.Ok("qemu-img", "bitmap", "--add", image, "old");
        QemuTools.QemuIo(image, "write -P 3 20M 64k");
        QemuTools.Ok("qemu-img", "bitmap", "--disable", image, "old");
        QemuTools.Ok("qemu-img", "bitmap", "--add", "-g", granularity, image, "b");
        QemuTools.Ok("qemu-img", "bitmap", "--add", image, "second");

        ChangeThroughMount(image);

        var changed = Writes.Select(w => (w.Offset, (long)w.Length)).Append(Punch).Append(ZeroRange).ToList();
        var info = BitmapsOf(image);
        var check = QemuTools.Check(image);
        Assert.Multiple(() =>
        {
            Assert.That(info, Is.EqualTo(new[] { "old:[]", "b:[auto]", "second:[auto]" }), "consistent (no in-use), order and flags kept");
            Assert.That(check.IsClean, Is.True, "qemu-img check: no corruption, no leak: " + check);
            Assert.That(QemuDirtyBitmap.DirtyRanges(image, "b"), Is.EqualTo(QemuDirtyBitmap.Expected(changed, bytes, DiskSize)));
            Assert.That(QemuDirtyBitmap.DirtyRanges(image, "second"), Is.EqualTo(QemuDirtyBitmap.Expected(changed, 65536, DiskSize)));
            Assert.That(QemuDirtyBitmap.DirtyRanges(image, "old"), Is.EqualTo(new[] { (20L << 20, 65536L) }), "disabled: what QEMU recorded, nothing of ours");
        });
    }

    [Test]
    public void QemuFilledBitmap_MountWrites_QemuReadsTheUnion()
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "64M");
        QemuTools.Ok("qemu-img", "bitmap", "--add", "-g", "4k", image, "b");
        QemuTools.QemuIo(image, "write -P 1 0 64k", "write -P 2 10M 8k");

        ChangeThroughMount(image);

        var expected = QemuDirtyBitmap.Expected(
            Writes.Select(w => (w.Offset, (long)w.Length)).Append(Punch).Append(ZeroRange).Append((0, 65536)).Append((10 << 20, 8192)), 4096, DiskSize);
        Assert.Multiple(() =>
        {
            Assert.That(QemuDirtyBitmap.DirtyRanges(image, "b"), Is.EqualTo(expected));
            Assert.That(QemuTools.Check(image).IsClean, Is.True, "qemu-img check clean");
        });
    }

    [Test]
    public void KillNineWhileMounted_BitmapInUseAsQemuLeavesIt()
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "64M");
        QemuTools.Ok("qemu-img", "bitmap", "--add", image, "b");
        QemuTools.Ok("qemu-img", "bitmap", "--add", "--disable", image, "off");
        string mnt = Scratch.NewDirectory("mnt");
        Cli.Mount(image, mnt);
        int pid = Scratch.ServerPid(mnt) ?? throw new AssertionException("no pid file for the server");
        WriteSynced(Path.Combine(mnt, "disk.raw"), 1 << 20, 4096);
        var whileMounted = BitmapsOf(image);
        using (var server = Process.GetProcessById(pid))
        {
            server.Kill(); // SIGKILL
            Assert.That(server.WaitForExit(10_000), Is.True, "the server survived kill -9");
        }

        Cli.Unmount(mnt);
        var export = ProcessRunner.Capture("qemu-nbd", "-r", "-k", Scratch.PathOf("s.sock"), "-B", "b", "-f", "qcow2", image);
        Assert.Multiple(() =>
        {
            Assert.That(whileMounted, Is.EqualTo(new[] { "b:[in-use,auto]", "off:[]" }), "in_use is on disk before the first write is acknowledged");
            Assert.That(BitmapsOf(image), Is.EqualTo(new[] { "b:[in-use,auto]", "off:[]" }), "inconsistent after a crash; the disabled one stays consistent");
            Assert.That(export.ExitCode, Is.Not.Zero, "QEMU refuses to use the inconsistent bitmap");
            Assert.That(export.StandardError, Does.Contain("inconsistent"));
            Assert.That(QemuTools.Check(image).Corruptions, Is.Zero);
        });
    }

    [Test]
    public void ReadOnlyMount_ImageBytesUnchanged()
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "8M");
        QemuTools.Ok("qemu-img", "bitmap", "--add", image, "b");
        byte[] before = File.ReadAllBytes(image);
        string mnt = Scratch.NewDirectory("mnt");
        Cli.Mount("--read-only", image, mnt);
        Assert.That(BitmapsOf(image), Is.EqualTo(new[] { "b:[auto]" }), "no in-use while mounted read-only");
        _ = File.ReadAllBytes(Path.Combine(mnt, "disk.raw"));
        Cli.Unmount(mnt);
        Assert.That(File.ReadAllBytes(image), Is.EqualTo(before));
    }

    /// <summary>"name:[flags]" per bitmap, from qemu-img info (-U: the image may be mounted).</summary>
    private static string[] BitmapsOf(string image)
    {
        var info = QemuTools.Ok("qemu-img", "info", "-U", "--output=json", image);
        using var json = JsonDocument.Parse(info);
        var data = json.RootElement.GetProperty("format-specific").GetProperty("data");
        return data.TryGetProperty("bitmaps", out var list)
            ? list.EnumerateArray().Select(b => $"{b.GetProperty("name").GetString()}:[{string.Join(',', b.GetProperty("flags").EnumerateArray().Select(f => f.GetString()))}]").ToArray()
            : [];
    }

    private static void WriteSynced(string raw, long offset, int length)
    {
        using var file = File.OpenHandle(raw, FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.Write(file, Enumerable.Repeat((byte)0x5A, length).ToArray(), offset);
        RandomAccess.FlushToDisk(file);
    }

    private static void Fallocate(string flag, string raw, (long Offset, long Length) range)
    {
        var r = ProcessRunner.Capture("fallocate", flag, "-o", range.Offset.ToString(CultureInfo.InvariantCulture), "-l", range.Length.ToString(CultureInfo.InvariantCulture), raw);
        Assert.That(r.ExitCode, Is.Zero, "fallocate " + flag + ": " + r);
    }

    /// <summary>The writes, a punched hole and a zeroed range through a real mount, then a clean unmount.</summary>
    private void ChangeThroughMount(string image)
    {
        string mnt = Scratch.NewDirectory("mnt");
        Cli.Mount(image, mnt);
        string raw = Path.Combine(mnt, "disk.raw");
        foreach (var (offset, length) in Writes)
        {
            WriteSynced(raw, offset, length);
        }

        Fallocate("-p", raw, Punch);
        Fallocate("-z", raw, ZeroRange);
        Cli.Unmount(mnt);
    }
}
