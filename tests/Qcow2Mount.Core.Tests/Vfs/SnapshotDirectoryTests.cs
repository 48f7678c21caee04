using Qcow2Mount.Core.Vfs;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Vfs;

/// <summary>
/// Snapshot files of a real image as <see cref="ImageDirectory.Open"/> lays them out for both shims (the FUSE host with
/// case-sensitive names, WinFsp without): the same names on both, names that differ only in case resolved as a clash.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class SnapshotDirectoryTests
{
    [Test]
    public void Open_SnapshotNamesDifferingOnlyInCase_SameFileNamesOnEveryPlatformEachReadsItsSnapshot()
    {
        using var dir = new TempDir("snapnames");
        string image = dir.File("disk.qcow2");
        QemuTools.Create(image, SnapshotImages.M);
        string[] snapshots = ["Snap", "snap", "CON", "SNAP", "a:b"];
        for (int i = 0; i < snapshots.Length; i++)
        {
            QemuTools.QemuIo(image, $"write -P {i + 1} 0 64k");
            QemuTools.CreateSnapshot(image, snapshots[i]);
        }

        string[] expected = ["disk.raw", "disk@Snap.raw", "disk@snap-2.raw", "disk@CON.raw", "disk@SNAP-3.raw", "disk@a%3Ab.raw"];
        foreach (bool caseSensitive in new[] { true, false })
        {
            using var directory = ImageDirectory.Open([image], null, new ImageOpenOptions { ReadOnly = true }, caseSensitive, snapshots: new SnapshotMount { All = true });
            Assert.That(directory.Files.Select(f => f.Name), Is.EqualTo(expected), $"caseSensitiveNames: {caseSensitive}");
            for (int i = 0; i < snapshots.Length; i++)
            {
                var file = directory.Find(expected[i + 1]) ?? throw new AssertionException($"{expected[i + 1]} not found");
                var bytes = new byte[file.Size];
                directory.Read(file, bytes, 0);
                Assert.That(bytes, Is.EqualTo(SnapshotImages.QemuSnapshotRaw(image, snapshots[i], SnapshotImages.M)), $"{file.Name} reads snapshot {snapshots[i]}");
            }
        }
    }
}
