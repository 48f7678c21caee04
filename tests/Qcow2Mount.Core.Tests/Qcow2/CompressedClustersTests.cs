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
            Assert.That(Compress(data, type), Is.EqualTo(-1));
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

        int compressed = Compress(data, 0);
        Assert.Multiple(() =>
        {
            Assert.That(CompressedClusters.LooksRandom(data), Is.False);
            Assert.That(compressed, Is.InRange(1, (Cluster / 2) - 1));
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
            Assert.That(Compress(data, 0), Is.GreaterThan(0));
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

    /// <summary>With either zstd codec a random cluster is stored uncompressed (libzstd decides so itself, the managed port after the histogram).</summary>
    [TestCase("native")]
    [TestCase("managed")]
    public void TryCompress_RandomClusterZstd_NotCompressedWithEitherCodec(string codec)
    {
        var data = new byte[Cluster];
        new Random(4).NextBytes(data);
        using var scope = ZstdCodec.Force(ZstdCodecTests.Pick(codec));

        Assert.That(Compress(data, 1), Is.EqualTo(-1));
    }

    /// <summary>Lengths that are not a multiple of the eight bytes the histogram loads at a time: the tail counts too.</summary>
    [TestCase(4096 + 7)]
    [TestCase(Cluster + 3)]
    public void LooksRandom_OddLengths_RandomTrueAndZeroTailFalse(int length)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);
        var zeroTail = data.ToArray();
        zeroTail.AsSpan(length - (length / 8)).Clear();
        Assert.Multiple(() =>
        {
            Assert.That(CompressedClusters.LooksRandom(data), Is.True);
            Assert.That(CompressedClusters.LooksRandom(zeroTail), Is.False);
        });
    }

    private static int Compress(byte[] cluster, byte type) =>
        CompressedClusters.TryCompress(cluster, type, Cluster, new byte[CompressedClusters.OutputBound(Cluster)]);
}
