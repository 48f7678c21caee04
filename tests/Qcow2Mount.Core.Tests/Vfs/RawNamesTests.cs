using Qcow2Mount.Core.Vfs;

namespace Qcow2Mount.Core.Tests.Vfs;

/// <summary>The naming rule of raw files, and how clashes are resolved under either platform's comparison.</summary>
[Category(TestCategories.Unit)]
public sealed class RawNamesTests
{
    [TestCase("/images/disk.qcow2", "disk.raw")]
    [TestCase("/images/Disk.QCOW2", "Disk.raw")]
    [TestCase("/images/disk.img", "disk.img.raw")]
    [TestCase("/images/disk", "disk.raw")]
    [TestCase("/images/disk.raw", "disk.raw.raw")]
    [TestCase("relative/a.b.qcow2", "a.b.raw")]
    public void For_ImagePath_RawName(string imagePath, string expected) => Assert.That(RawNames.For(imagePath), Is.EqualTo(expected));

    [Test]
    public void Unique_NameAndFirstSuffixTaken_NextFreeSuffix()
    {
        var taken = new HashSet<string> { "disk.raw", "disk-2.raw" };
        Assert.That(RawNames.Unique("disk.raw", taken.Contains), Is.EqualTo("disk-3.raw"));
    }

    [Test]
    public void Add_SameNameTwice_SecondGetsSuffixOnEveryPlatform()
    {
        foreach (bool caseSensitive in new[] { true, false })
        {
            using var directory = new ImageDirectory(caseSensitive);
            directory.Add("/a/disk.qcow2", new TestSupport.MemoryDisk(4096));
            directory.Add("/b/disk.qcow2", new TestSupport.MemoryDisk(4096));
            Assert.That(directory.Files.Select(f => f.Name), Is.EqualTo(new[] { "disk.raw", "disk-2.raw" }), $"case-sensitive: {caseSensitive}");
        }
    }

    [Test]
    public void Add_NamesDifferingOnlyInCase_CaseSensitiveKeepsBothCaseInsensitiveDeduplicates()
    {
        using var linux = new ImageDirectory(caseSensitiveNames: true);
        using var windows = new ImageDirectory(caseSensitiveNames: false);
        foreach (var directory in new[] { linux, windows })
        {
            directory.Add("/a/Disk.qcow2", new TestSupport.MemoryDisk(4096));
            directory.Add("/b/disk.qcow2", new TestSupport.MemoryDisk(4096));
            directory.Add("/c/DISK-2.img", new TestSupport.MemoryDisk(4096));
        }

        Assert.Multiple(() =>
        {
            Assert.That(linux.Files.Select(f => f.Name), Is.EqualTo(new[] { "Disk.raw", "disk.raw", "DISK-2.img.raw" }));
            Assert.That(windows.Files.Select(f => f.Name), Is.EqualTo(new[] { "Disk.raw", "disk-2.raw", "DISK-2.img.raw" }));
            Assert.That(windows.Find("DISK-2.RAW"), Is.SameAs(windows.Files[1]), "found ignoring case");
            Assert.That(linux.Find("DISK.RAW"), Is.Null, "found only by its exact name");
            Assert.That(linux.Find("disk.raw"), Is.SameAs(linux.Files[1]));
        });
    }

    [Test]
    public void Unique_TakenNameAtTheLengthLimit_SuffixFitsWithinTheLimit()
    {
        string name = new string('x', 246) + "\u00e9" + ".raw"; // 246 + 2 + 4 = 252 bytes
        name = new string('y', 3) + name; // 255 bytes
        var taken = new HashSet<string> { name };

        string unique = RawNames.Unique(name, taken.Contains);

        Assert.Multiple(() =>
        {
            Assert.That(System.Text.Encoding.UTF8.GetByteCount(unique), Is.LessThanOrEqualTo(VolumeCapacity.NameMax));
            Assert.That(unique, Does.EndWith("-2.raw"));
            Assert.That(unique, Does.StartWith("yyyxxx"));
        });
    }
}
