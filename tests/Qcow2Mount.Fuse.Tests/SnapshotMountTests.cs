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

    /// <summary>Hundreds of snapshots (made by qemu-img, a write before every tenth): all listed, three read like QEMU; the time goes to the log.</summary>
    [Test]
    public void Mount_HundredsOfSnapshots_AllListedAndRead()
    {
        const int count = 200;
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
