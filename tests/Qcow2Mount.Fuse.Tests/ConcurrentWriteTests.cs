using Qcow2Mount.Fuse.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>
/// Eight threads pwrite the mounted raw file at once, in the same clusters. Area A: every cluster is cut into
/// eight stripes (boundaries deliberately off the subcluster grid, so two threads share a subcluster and each
/// write's copy-on-write covers the other's bytes); thread t owns stripe t and rewrites it every round, so the
/// final content is exact: each stripe holds its owner's last round. Area B: threads write overlapping random
/// ranges, each with its own byte value; every byte must end as the value of one of the threads that wrote it
/// (zero if none did): no write may be lost to a stale copy, no stale byte may appear. QEMU reads the result.
/// The kernel serialises writes to one FUSE file (inode lock; no direct_io), so this proves the multi-threaded
/// FUSE path end to end; truly simultaneous writes to one cluster are proved on the engine by SameClusterWriteTests.
/// </summary>
public sealed class ConcurrentWriteTests : ScratchFixture
{
    private const int Threads = 8;
    private const int Rounds = 4;
    private const int StripedClusters = 24;
    private const int OverlapWrites = 60;

    [OneTimeSetUp]
    public void RequireTools() => Tool.Require("qemu-img", "qemu-utils");

    [TestCase("extended_l2=on,cluster_size=128k", 128 << 10)]
    [TestCase("extended_l2=off,cluster_size=64k", 64 << 10)]
    public void EightThreads_SameClusters_DisjointStripesExactOverlapsFromAWriter(string options, int clusterSize)
    {
        string image = Scratch.PathOf("disk.qcow2");
        Tool.Check("qemu-img", "create", "-q", "-f", "qcow2", "-o", options, image, "64M");
        string mnt = Scratch.NewDirectory("mnt");
        string raw = Path.Combine(mnt, "disk.raw");
        int[] bounds = StripeBounds(clusterSize);
        long areaB = (long)StripedClusters * clusterSize;
        int areaBLength = 16 * clusterSize;
        // covered[i] bit t: thread t wrote byte i of area B at least once.
        var covered = new int[areaBLength];

        Cli.Mount(image, mnt);
        using (var file = File.OpenHandle(raw, FileMode.Open, FileAccess.ReadWrite))
        {
            var errors = ThreadGang.Run(Threads, t =>
            {
                var random = new Random(1000 + t);
                for (int round = 0; round < Rounds; round++)
                {
                    foreach (int c in Enumerable.Range(0, StripedClusters).OrderBy(_ => random.Next()))
                    {
                        RandomAccess.Write(file, StripeData(t, round, c, bounds), ((long)c * clusterSize) + bounds[t]);
                    }

                    for (int w = 0; w < OverlapWrites / Rounds; w++)
                    {
                        int start = random.Next(areaBLength - 1);
                        int length = Math.Min(random.Next(1, 3 * clusterSize / 2), areaBLength - start);
                        var data = new byte[length];
                        Array.Fill(data, (byte)(t + 1));
                        RandomAccess.Write(file, data, areaB + start);
                        for (int i = start; i < start + length; i++)
                        {
                            Interlocked.Or(ref covered[i], 1 << t);
                        }
                    }
                }
            });
            Assert.That(errors, Is.Empty, string.Join('\n', errors));
            RandomAccess.FlushToDisk(file);
        }

        Cli.Unmount(mnt);
        var check = Tool.Run("qemu-img", "check", image);
        Assert.That(check.ExitCode, Is.Zero, check.ToString());
        byte[] content = Images.QemuRaw(Scratch, image);

        for (int c = 0; c < StripedClusters; c++)
        {
            for (int t = 0; t < Threads; t++)
            {
                var expected = StripeData(t, Rounds - 1, c, bounds);
                long at = ((long)c * clusterSize) + bounds[t];
                Images.AssertSameBytes(content.AsSpan((int)at, expected.Length).ToArray(), expected, $"cluster {c} stripe {t} (owner's last round)");
            }
        }

        for (int i = 0; i < areaBLength; i++)
        {
            byte value = content[areaB + i];
            bool fine = value == 0 ? covered[i] == 0 : value <= Threads && (covered[i] & (1 << (value - 1))) != 0;
            if (!fine)
            {
                Assert.Fail($"area B byte {i} (cluster {i / clusterSize} + 0x{i % clusterSize:x}) is 0x{value:x2}; writers there: 0b{Convert.ToString(covered[i], 2)}");
            }
        }
    }

    /// <summary>Stripe t = [bounds[t], bounds[t+1]) of a cluster; inner bounds sit 700 bytes past the eighths.</summary>
    private static int[] StripeBounds(int clusterSize) =>
        Enumerable.Range(0, Threads + 1).Select(t => t == 0 ? 0 : t == Threads ? clusterSize : (t * clusterSize / Threads) + 700).ToArray();

    private static byte[] StripeData(int thread, int round, int cluster, int[] bounds)
    {
        var data = new byte[bounds[thread + 1] - bounds[thread]];
        new Random((thread * 1_000_003) + (round * 1009) + cluster).NextBytes(data);
        return data;
    }
}
