using System.Diagnostics;
using Qcow2Mount.Fuse.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>
/// Internal snapshots through a real mount: <c>--snapshots</c> shows each as a read-only <c>NAME@SNAPSHOT.raw</c>
/// that reads what <c>qemu-img convert -l</c> writes, writes to <c>NAME.raw</c> never change a snapshot file,
/// <c>--snapshot S</c> shows that snapshot only, read-only, and a read-only mount leaves the image file as it was.
/// </summary>
[Category(TestCategories.Mount)]
[Category(TestCategories.Slow)]
public sealed class SnapshotMountTests : ScratchFixture
{
    public static IEnumerable<string> Kinds => SnapshotImages.Kinds;

    [OneTimeSetUp]
    public void RequireTools()
    {
        RequiredTools.Require("qemu-img");
        RequiredTools.Require("qemu-io");
    }

    [TestCaseSource(nameof(Kinds))]
    public void Mount_Snapshots_EverySnapshotFileReadsWhatQemuConvertWrites(string kind)
    {
        var image = SnapshotImages.Build(Scratch.Root, kind);
        string before = Checksum.Sha256OfFile(image.Path);
        string stem = Path.GetFileNameWithoutExtension(image.Path);
        string mnt = Scratch.NewDirectory("mnt");

        Cli.Mount("--read-only", "--snapshots", image.Path, mnt);
        try
        {
            var expectedNames = image.Snapshots.Select(s => $"{stem}@{s.Name.Replace("%", "%25", StringComparison.Ordinal).Replace("/", "%2F", StringComparison.Ordinal)}.raw").Prepend(stem + ".raw");
            Assert.That(Directory.GetFiles(mnt).Select(Path.GetFileName), Is.EquivalentTo(expectedNames));
            foreach (var (name, size) in image.Snapshots)
            {
                string file = Path.Combine(mnt, $"{stem}@{name.Replace("%", "%25", StringComparison.Ordinal).Replace("/", "%2F", StringComparison.Ordinal)}.raw");
                Images.AssertSameBytes(File.ReadAllBytes(file), SnapshotImages.QemuSnapshotRaw(image.Path, name, size), $"{kind} {name}");
            }

            Images.AssertSameBytes(File.ReadAllBytes(Path.Combine(mnt, stem + ".raw")), Images.QemuRaw(Scratch, image.Path), $"{kind} live");
        }
        finally
        {
            Cli.Unmount(mnt);
        }

        Assert.Multiple(() =>
        {
            Assert.That(Checksum.Sha256OfFile(image.Path), Is.EqualTo(before), "image file after a read-only mount with --snapshots");
            Assert.That(QemuTools.Check(image.Path).ExitCode, Is.Zero);
        });
    }

    /// <summary>The whole live disk is overwritten through the mount: every snapshot file still reads as before (shared clusters are copied first).</summary>
    [TestCase("extended-l2")]
    [TestCase("compressed")]
    [TestCase("backing")]
    public void Mount_WriteWholeLiveDisk_SnapshotFilesUnchangedAndRefused(string kind)
    {
        var image = SnapshotImages.Build(Scratch.Root, kind);
        string stem = Path.GetFileNameWithoutExtension(image.Path);
        string mnt = Scratch.NewDirectory("mnt");
        var data = new byte[image.Snapshots[^1].Size];
        new Random(17).NextBytes(data);

        Cli.Mount("--snapshots", image.Path, mnt);
        var files = image.Snapshots.Select(s => Path.Combine(mnt, $"{stem}@{s.Name}.raw")).ToArray();
        try
        {
            var before = files.Select(File.ReadAllBytes).ToArray();
            using (var live = File.OpenHandle(Path.Combine(mnt, stem + ".raw"), FileMode.Open, FileAccess.ReadWrite))
            {
                RandomAccess.Write(live, data, 0);
                RandomAccess.FlushToDisk(live);
            }

            for (int i = 0; i < files.Length; i++)
            {
                Images.AssertSameBytes(File.ReadAllBytes(files[i]), before[i], $"{files[i]} after the live disk was overwritten");
            }

            var refused = Assert.Catch<IOException>(() => File.OpenHandle(files[0], FileMode.Open, FileAccess.Write).Dispose());
            Assert.That(refused!.Message, Does.Contain("Read-only file system"));
        }
        finally
        {
            Cli.Unmount(mnt);
        }

        Assert.That(QemuTools.Check(image.Path).ExitCode, Is.Zero);
        Images.AssertSameBytes(Images.QemuRaw(Scratch, image.Path), data, "live disk as QEMU reads it");
        foreach (var (name, size) in image.Snapshots)
        {
            using var view = Core.Qcow2.Qcow2Image.Open(image.Path, new Core.ImageOpenOptions { ReadOnly = true, Snapshot = new Core.SnapshotSelector { Name = name } });
            var mine = new byte[view.Length];
            view.Read(0, mine);
            Images.AssertSameBytes(mine, SnapshotImages.QemuSnapshotRaw(image.Path, name, size), $"snapshot {name} after the writes");
        }
    }

    /// <summary>
    /// Snapshots taken at 512 KiB, 2 MiB and 3 MiB of a disk since shrunk to 1 MiB: through --snapshots and through
    /// --snapshot S each file has the snapshot's own size and reads what QEMU's disk reads after qemu-img snapshot -a S
    /// on a copy (convert -l cannot be the oracle past the live size: it keeps the live disk's size), and the smaller
    /// one also what convert -l writes, cut to its size.
    /// </summary>
    [Test]
    public void Mount_SnapshotsLargerAndSmallerThanLiveDisk_EachReadsItsOwnSizeLikeQemuApply()
    {
        const long K = 1024;
        string path = Scratch.PathOf("sizes.qcow2");
        QemuTools.Create(path, 512 * K);
        QemuTools.QemuIo(path, "write -P 0x51 0 512k");
        QemuTools.CreateSnapshot(path, "small");
        QemuTools.QemuImg("resize", "-q", path, "2M");
        QemuTools.QemuIo(path, "write -P 0x52 256k 1792k");
        QemuTools.CreateSnapshot(path, "mid");
        QemuTools.QemuImg("resize", "-q", path, "3M");
        QemuTools.QemuIo(path, "write -P 0x53 2M 1M");
        QemuTools.CreateSnapshot(path, "big");
        QemuTools.QemuImg("resize", "-q", "--shrink", path, "1M");
        QemuTools.QemuIo(path, "write -P 0x54 0 64k");
        var sizes = new Dictionary<string, long> { ["small"] = 512 * K, ["mid"] = 2 * SnapshotImages.M, ["big"] = 3 * SnapshotImages.M };
        var expected = sizes.Keys.ToDictionary(n => n, n => AppliedByQemu(path, n));
        Assert.Multiple(() =>
        {
            Assert.That(expected.ToDictionary(e => e.Key, e => (long)e.Value.Length), Is.EqualTo(sizes), "QEMU reverts each size");
            Assert.That(expected["small"], Is.EqualTo(SnapshotImages.QemuSnapshotRaw(path, "small", 512 * K)), "convert -l agrees below the live size");
        });

        string mnt = Scratch.NewDirectory("mnt");
        Cli.Mount("--read-only", "--snapshots", path, mnt);
        try
        {
            Assert.That(new FileInfo(Path.Combine(mnt, "sizes.raw")).Length, Is.EqualTo(SnapshotImages.M));
            foreach (var (name, bytes) in expected)
            {
                Images.AssertSameBytes(File.ReadAllBytes(Path.Combine(mnt, $"sizes@{name}.raw")), bytes, $"--snapshots {name}");
            }
        }
        finally
        {
            Cli.Unmount(mnt);
        }

        foreach (var (name, bytes) in expected)
        {
            Cli.Mount("--snapshot", name, path, mnt);
            try
            {
                Images.AssertSameBytes(File.ReadAllBytes(Path.Combine(mnt, $"sizes@{name}.raw")), bytes, $"--snapshot {name}");
            }
            finally
            {
                Cli.Unmount(mnt);
            }
        }
    }

    /// <summary>
    /// The lock: while the image is mounted (read-write, or read-only with --snapshots), neither qcow2mount snapshot
    /// nor qemu-img snapshot can create, apply or delete a snapshot from another process; the table stays as it was.
    /// </summary>
    [TestCase("rw")]
    [TestCase("ro")]
    public void Mount_ImageMounted_SnapshotChangesFromAnotherProcessRefused(string mode)
    {
        string path = Scratch.PathOf("locked.qcow2");
        QemuTools.Create(path, SnapshotImages.M);
        QemuTools.QemuIo(path, "write -P 0x61 0 64k");
        QemuTools.CreateSnapshot(path, "s1");
        string mnt = Scratch.NewDirectory("mnt");
        Cli.Mount("-o", mode + ",snapshots", path, mnt);
        try
        {
            foreach (string[] change in new[] { new[] { "-c", "s2" }, ["-a", "s1"], ["-d", "s1"] })
            {
                var ours = Cli.Run(["snapshot", .. change, path]);
                var qemu = QemuTools.Run("qemu-img", ["snapshot", .. change, path]);
                Assert.Multiple(() =>
                {
                    Assert.That(ours.ExitCode, Is.EqualTo(1), $"qcow2mount snapshot {change[0]}: {ours}");
                    Assert.That(ours.StandardError, Does.Contain("in use by another process"), change[0]);
                    Assert.That(ours.StandardError.TrimEnd('\n'), Does.Not.Contain('\n'), "one line");
                    Assert.That(qemu.Code, Is.EqualTo(1), $"qemu-img snapshot {change[0]}: {qemu.Stderr}");
                });
            }

            Assert.That(File.ReadAllBytes(Path.Combine(mnt, "locked@s1.raw")).AsSpan(0, 65536).ContainsAnyExcept((byte)0x61), Is.False);
        }
        finally
        {
            Cli.Unmount(mnt);
        }

        Assert.That(QemuTools.Ok("qemu-img", "snapshot", "-l", path), Does.Contain(" s1 ").And.Not.Contain("s2"));
    }

    /// <summary>What QEMU's disk reads after qemu-img snapshot -a <paramref name="name"/> on a copy of <paramref name="path"/>.</summary>
    private byte[] AppliedByQemu(string path, string name)
    {
        string copy = Scratch.PathOf($"applied-{name}.qcow2");
        File.Copy(path, copy, overwrite: true);
        QemuTools.QemuImg("snapshot", "-a", name, copy);
        return Images.QemuRaw(Scratch, copy);
    }

    [TestCase("s1")]
    [TestCase("snapshot.id=1")]
    public void Mount_OneSnapshot_ShowsOnlyItReadOnly(string selector)
    {
        var image = SnapshotImages.Build(Scratch.Root, "standard-l2");
        string before = Checksum.Sha256OfFile(image.Path);
        string mnt = Scratch.NewDirectory("mnt");

        Cli.Mount("--snapshot", selector, image.Path, mnt);
        try
        {
            Assert.That(Directory.GetFiles(mnt).Select(Path.GetFileName), Is.EqualTo(new[] { "standard-l2@s1.raw" }));
            string file = Path.Combine(mnt, "standard-l2@s1.raw");
            Images.AssertSameBytes(File.ReadAllBytes(file), SnapshotImages.QemuSnapshotRaw(image.Path, "s1", 4 * SnapshotImages.M), "s1");
            Assert.Catch<IOException>(() => File.OpenHandle(file, FileMode.Open, FileAccess.Write).Dispose());
        }
        finally
        {
            Cli.Unmount(mnt);
        }

        Assert.That(Checksum.Sha256OfFile(image.Path), Is.EqualTo(before));
    }

    [Test]
    public void Mount_UnknownSnapshot_FailsInOneLineAndMountsNothing()
    {
        var image = SnapshotImages.Build(Scratch.Root, "compressed");
        string mnt = Scratch.NewDirectory("mnt");

        var result = Cli.Run("-o", "snapshot=nope", image.Path, mnt);

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.Not.Zero);
            Assert.That(result.StandardError.Trim(), Does.Contain("no snapshot matches 'nope'").And.Not.Contain("\n"));
            Assert.That(Scratch.MountsUnder(Scratch.Root), Is.Empty);
        });
    }

    [Test]
    public void Mount_VhdWithOneSnapshot_UsageErrorAndMountsNothing()
    {
        var image = SnapshotImages.Build(Scratch.Root, "compressed");
        string mnt = Scratch.NewDirectory("mnt");

        var result = Cli.Run("--vhd", "--snapshot", "1", image.Path, mnt);

        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(1), "a usage error");
            Assert.That(result.StandardError.Trim(), Does.Contain("--vhd").And.Contain("--snapshot").And.Not.Contain("\n"));
            Assert.That(Scratch.MountsUnder(Scratch.Root), Is.Empty);
        });
    }

    /// <summary>
    /// Hundreds of snapshots (made by qemu-img, a write before every tenth): qcow2mount snapshot -l prints qemu-img's
    /// table byte for byte, the mount lists all of them beside the live disk, three read like QEMU; the times go to the log.
    /// </summary>
    [Test]
    public void Mount_HundredsOfSnapshots_ListedLikeQemuImgAllMountedAndRead()
    {
        const int count = 300;
        string path = Scratch.PathOf("many.qcow2");
        QemuTools.Create(path, 8 * SnapshotImages.M);
        for (int i = 0; i < count; i++)
        {
            if (i % 10 == 0)
            {
                QemuTools.QemuIo(path, $"write -P {i % 250} {i * 16}k 4k");
            }

            QemuTools.CreateSnapshot(path, $"snap{i}");
        }

        var listClock = Stopwatch.StartNew();
        var list = Cli.Run("snapshot", "-l", path);
        TestContext.Progress.WriteLine($"snapshot -l of {count} snapshots: {listClock.ElapsedMilliseconds} ms");
        Assert.Multiple(() =>
        {
            Assert.That(list.ExitCode, Is.Zero, list.ToString());
            Assert.That(list.StandardOutput, Is.EqualTo(QemuTools.Ok("qemu-img", "snapshot", "-l", path)));
            Assert.That(list.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(count + 2), "title, header and one line per snapshot");
        });

        string mnt = Scratch.NewDirectory("mnt");
        var clock = Stopwatch.StartNew();
        Cli.Mount("-o", "ro,snapshots", path, mnt);
        try
        {
            var names = Directory.GetFiles(mnt);
            TestContext.Progress.WriteLine($"mount with {count} snapshots and listing: {clock.ElapsedMilliseconds} ms");
            Assert.That(names, Has.Length.EqualTo(count + 1));
            foreach (int i in new[] { 0, count / 2, count - 1 })
            {
                Images.AssertSameBytes(File.ReadAllBytes(Path.Combine(mnt, $"many@snap{i}.raw")), SnapshotImages.QemuSnapshotRaw(path, $"snap{i}", 8 * SnapshotImages.M), $"snap{i}");
            }
        }
        finally
        {
            Cli.Unmount(mnt);
        }
    }
}
