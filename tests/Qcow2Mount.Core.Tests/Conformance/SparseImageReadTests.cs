using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Conformance;

/// <summary>
/// A 1 TiB image with a few writes far apart: the regions <c>qemu-img map</c> reports as data read exactly like
/// <c>qemu-img convert</c>'s (sparse) raw file, and holes spot-checked at their edges and middle read as zeros —
/// without reading the whole terabyte.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
public sealed class SparseImageReadTests
{
    private const long TiB = 1L << 40;
    private const long GiB = 1L << 30;

    [TestCase(false)]
    [TestCase(true)]
    public void Read_OneTebibyteSparseImage_DataRegionsMatchAndHolesReadZero(bool extendedL2)
    {
        using var dir = new TempDir("sparse");
        string image = dir.File("big.qcow2");
        string expected = dir.File("big.raw");
        string random = PatternFile.Random(dir, seed: 3);
        string compressible = PatternFile.Compressible(dir, seed: 4);
        QemuTools.Create(image, TiB, extendedL2 ? new Dictionary<string, string> { ["extended_l2"] = "on" } : null);
        QemuTools.QemuIo(
            image,
            $"write -s {random} 0 100k",
            $"write -s {random} {(512L << 20) - 1000} 3000", // crosses an L2-table boundary (256 MiB / 512 MiB)
            $"write -s {random} {(4 * GiB) - 777} 2000",
            $"write -s {random} {(300 * GiB) + 12345} 200k",
            $"write -c -s {compressible} {512 * GiB} 64k",
            $"write -P 0x5a {700 * GiB} 1M",
            $"write -z {(700 * GiB) + (256 * 1024)} 256k",
            $"write -s {random} {TiB - 70000} 70000");
        QemuTools.ConvertToRaw(image, expected);
        IReadOnlyList<QemuMapEntry> map = QemuTools.Map(image);
        var data = map.Where(e => e.Data).ToList();
        var holes = map.Where(e => !e.Data).ToList();

        using Qcow2Image disk = Qcow2Image.Open(image, new ImageOpenOptions { ReadOnly = true });

        Assert.Multiple(() =>
        {
            Assert.That(disk.Length, Is.EqualTo(TiB));
            Assert.That(data, Has.Count.GreaterThanOrEqualTo(6), "qemu-img map data runs");
            Assert.That(data.Sum(e => e.Length), Is.LessThan(16L << 20), "only the written regions are data");
            foreach (QemuMapEntry region in data)
            {
                Assert.That(DiskContent.DescribeDifference(disk, expected, region.Start, region.Length, chunkSize: 65536 + 511), Is.Empty, $"data run {region}");
            }

            foreach (long offset in HoleProbes(holes))
            {
                var buffer = new byte[4096];
                Assert.That(disk.Read(offset, buffer), Is.EqualTo(buffer.Length), $"hole probe at {offset}");
                Assert.That(buffer.AsSpan().ContainsAnyExcept((byte)0), Is.False, $"hole at {offset} does not read as zeros");
            }
        });
    }

    /// <summary>First, middle and last 4 KiB of every hole, plus seeded offsets anywhere in the holes.</summary>
    private static IEnumerable<long> HoleProbes(IReadOnlyList<QemuMapEntry> holes)
    {
        var random = new Random(17);
        foreach (QemuMapEntry hole in holes.Where(h => h.Length >= 4096))
        {
            yield return hole.Start;
            yield return hole.Start + ((hole.Length / 2) & ~4095L);
            yield return hole.End - 4096;
            for (int i = 0; i < 8; i++)
            {
                yield return hole.Start + random.NextInt64(hole.Length - 4096 + 1);
            }
        }
    }
}
