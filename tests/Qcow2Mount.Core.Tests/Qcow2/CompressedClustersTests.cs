using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>
/// Issue 18: clusters of random-looking bytes are stored uncompressed without a compression attempt
/// (<see cref="CompressedClusters.LooksRandom"/>); anything a 4 KiB-window deflate (QEMU's) could shorten is still compressed.
/// </summary>
[TestFixture]
[Category(TestCategories.Unit)]
public sealed class CompressedClustersTests
{
    private const int Cluster = 65536;

    [TestCase(0)]
    [TestCase(1)]
    public void TryCompress_RandomCluster_NotCompressed(byte type)
    {
        var data = new byte[Cluster];
        new Random(1).NextBytes(data);
        Assert.Multiple(() =>
        {
            Assert.That(CompressedClusters.LooksRandom(data), Is.True);
            Assert.That(CompressedClusters.TryCompress(data, type, Cluster), Is.Null);
        });
    }

    /// <summary>Random blocks repeated at these periods (within and beyond QEMU's 4 KiB window) still compress.</summary>
    [TestCase(512)]
    [TestCase(4096)]
    [TestCase(16384)]
    public void TryCompress_RepeatedRandomBlock_Compressed(int period)
    {
        var block = new byte[period];
        new Random(period).NextBytes(block);
        var data = new byte[Cluster];
        for (int i = 0; i < Cluster; i += period)
        {
            block.CopyTo(data, i);
        }

        var compressed = CompressedClusters.TryCompress(data, 0, Cluster);
        Assert.Multiple(() =>
        {
            Assert.That(CompressedClusters.LooksRandom(data), Is.False);
            Assert.That(compressed, Is.Not.Null);
            Assert.That(compressed!.Length, Is.LessThan(Cluster / 2));
        });
    }

    [Test]
    public void LooksRandom_RandomWithSomeZeros_False()
    {
        var data = new byte[Cluster];
        new Random(2).NextBytes(data.AsSpan(0, Cluster - 4096));
        Assert.Multiple(() =>
        {
            Assert.That(CompressedClusters.LooksRandom(data), Is.False);
            Assert.That(CompressedClusters.TryCompress(data, 0, Cluster), Is.Not.Null);
        });
    }

    [Test]
    public void LooksRandom_TextLikeBytes_False()
    {
        var rng = new Random(3);
        var data = new byte[Cluster];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (byte)(i % 64 == 63 ? '\n' : "etaoin shrdlu"[rng.Next(13)]);
        }

        Assert.That(CompressedClusters.LooksRandom(data), Is.False);
    }
}
