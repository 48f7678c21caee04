using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Conformance;

/// <summary>
/// Eight threads write the same clusters of one engine at once (the mount cannot do this: the kernel serialises
/// writes to one FUSE file). Each cluster is cut into eight stripes with borders off the subcluster grid, so every
/// write's copy-on-write range covers a neighbour's bytes; thread t owns stripe t and rewrites it each round. The
/// final content is exact (each stripe holds its owner's last round) and qemu-img check is clean: overlapping
/// allocations must wait for each other (qemu-behaviour.md §3, handle_dependencies).
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class SameClusterWriteTests
{
    private const int Threads = 8;
    private const int Rounds = 6;
    private const int Clusters = 32;

    [TestCase("extended_l2=on,cluster_size=65536", 65536)]
    [TestCase("extended_l2=off,cluster_size=65536", 65536)]
    [TestCase("extended_l2=off,cluster_size=4096", 4096)]
    public void EightThreads_DisjointStripesOfSameClusters_EachStripeHoldsItsOwnersLastWrite(string options, int clusterSize)
    {
        using var dir = new TempDir("samecluster");
        string image = dir.File("a.qcow2");
        QemuTools.Create(image, 16 << 20, options.Split(',').Select(o => o.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]));
        int[] bounds = Enumerable.Range(0, Threads + 1)
            .Select(t => t == 0 ? 0 : t == Threads ? clusterSize : (t * clusterSize / Threads) + (clusterSize / 64) + 100)
            .ToArray();

        using (var disk = Qcow2Image.Open(image))
        {
            var errors = ThreadGang.Run(Threads, t =>
            {
                var random = new Random(500 + t);
                for (int round = 0; round < Rounds; round++)
                {
                    foreach (int c in Enumerable.Range(0, Clusters).OrderBy(_ => random.Next()))
                    {
                        disk.Write(((long)c * clusterSize) + bounds[t], StripeData(t, round, c, bounds));
                    }
                }
            });
            Assert.That(errors, Is.Empty, string.Join('\n', errors));
        }

        var check = QemuTools.Check(image);
        Assert.That(check.IsClean, Is.True, check.ToString());
        string raw = dir.File("a.raw");
        QemuTools.ConvertToRaw(image, raw);
        byte[] content = File.ReadAllBytes(raw);
        for (int c = 0; c < Clusters; c++)
        {
            for (int t = 0; t < Threads; t++)
            {
                var expected = StripeData(t, Rounds - 1, c, bounds);
                int at = (c * clusterSize) + bounds[t];
                int same = content.AsSpan(at, expected.Length).CommonPrefixLength(expected);
                Assert.That(same, Is.EqualTo(expected.Length), $"cluster {c} stripe {t}: first difference at byte {same} (QEMU's view)");
            }
        }
    }

    private static byte[] StripeData(int thread, int round, int cluster, int[] bounds)
    {
        var data = new byte[bounds[thread + 1] - bounds[thread]];
        new Random((thread * 1_000_003) + (round * 1009) + cluster).NextBytes(data);
        return data;
    }
}
