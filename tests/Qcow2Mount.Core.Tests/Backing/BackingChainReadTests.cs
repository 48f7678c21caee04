using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Tests.Conformance;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Backing;

/// <summary>Three-deep chains mixing raw and qcow2 layers of different sizes read through the top exactly like <c>qemu-img convert</c> of the top.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class BackingChainReadTests
{
    public static IEnumerable<TestCaseData> Layouts() =>
        ChainLayout.All().Select(l => new TestCaseData(l).SetArgDisplayNames(l.Name));

    [TestCaseSource(nameof(Layouts))]
    public void Read_ThreeLayerChain_EqualsQemuConvertOfTop(ChainLayout layout)
    {
        using var dir = new TempDir("chain");
        string top = layout.Build(dir);
        string expected = dir.File("expected.raw");
        QemuTools.ConvertToRaw(top, expected);
        var hashes = Directory.GetFiles(dir.Path).ToDictionary(f => f, Checksum.Sha256OfFile);

        using (Qcow2Image disk = Qcow2Image.Open(top, new ImageOpenOptions { ReadOnly = true }))
        {
            Assert.Multiple(() =>
            {
                Assert.That(disk.Length, Is.EqualTo(layout.TopSize));
                Assert.That(DiskContent.DescribeDifference(disk, expected), Is.Empty, layout.Name);
                Assert.That(ReadConformanceTests.RandomReads(disk, expected, seed: 9, count: 200), Is.Empty, layout.Name);
            });
        }

        Assert.That(Directory.GetFiles(dir.Path).Where(hashes.ContainsKey).Where(f => Checksum.Sha256OfFile(f) != hashes[f]), Is.Empty, "files changed by a read-only open");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Read_FollowBackingFalse_UnallocatedRangesReadZero(bool topExtendedL2)
    {
        using var dir = new TempDir("nobacking");
        string top = new ChainLayout("qcow2", 4L << 20, 4L << 20, 4L << 20, topExtendedL2).Build(dir);
        string expected = dir.File("expected.raw");
        // QEMU's equivalent: the top opened with its backing link cut.
        string json = $$$"""json:{"driver":"qcow2","backing":null,"file":{"driver":"file","filename":"{{{top}}}"}}""";
        QemuTools.QemuImg("convert", "-O", "raw", json, expected);
        string withBacking = dir.File("with-backing.raw");
        QemuTools.ConvertToRaw(top, withBacking);

        using Qcow2Image disk = Qcow2Image.Open(top, new ImageOpenOptions { ReadOnly = true, FollowBacking = false });

        Assert.Multiple(() =>
        {
            Assert.That(Checksum.Sha256OfFile(expected), Is.Not.EqualTo(Checksum.Sha256OfFile(withBacking)), "the chain must contribute data");
            Assert.That(DiskContent.DescribeDifference(disk, expected), Is.Empty);
        });
    }
}
