using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>
/// The one mapping walker (<see cref="ClusterMapper"/>, asked through <see cref="Qcow2Image.GetBlockStatus"/>) against
/// an independent oracle: the raw L2 entries of a qemu-io-made image (<see cref="L2Dump"/>), decoded subcluster by
/// subcluster with the spec §7 table written out here again. Every run must match every subcluster it covers, and
/// must be maximal: it stops only where the next subcluster differs, its host offset is not contiguous, a compressed
/// cluster ends, or the requested length ends.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
public sealed class ClusterMapperTests
{
    private const int Seed = 20261207;

    /// <summary>Every subcluster state, runs crossing cluster and L2-table boundaries, a range with no L2 table.</summary>
    private static string[] Operations(long cluster) =>
    [
        "write -P 1 0 4k", "write -P 2 8k 2k", "write -P 3 64k 192k", "write -z 64k 64k", "write -z -u 128k 64k",
        $"write -c -P 4 {4 * cluster} {cluster}", "write -P 5 320k 128k", "discard 384k 64k", "write -z 392k 4k",
        "write -P 6 640k 64k", "write -z 640k 32k", "write -P 7 768k 2k", "write -P 8 1020k 8k", "write -P 9 300M 1M",
        "write -z 301M 64k", "write -P 10 310M 6k", $"write -c -P 11 {320L << 20} {2 * cluster}",
    ];

    [TestCase("on", "65536")]
    [TestCase("off", "65536")]
    [TestCase("on", "2097152")]
    [TestCase("off", "4096")]
    public void GetBlockStatus_QemuMadeImage_RunsMatchEverySubclusterAndAreMaximal(string extendedL2, string clusterSize)
    {
        using var dir = new TempDir("mapper");
        string image = dir.File("disk.qcow2");
        QemuTools.Create(image, 1L << 30, new Dictionary<string, string> { ["extended_l2"] = extendedL2, ["cluster_size"] = clusterSize });
        QemuTools.QemuIo(image, Operations(long.Parse(clusterSize, System.Globalization.CultureInfo.InvariantCulture)));
        var dump = L2Dump.Load(image);
        var random = new Random(Seed);
        using var disk = Qcow2Image.Open(image, new ImageOpenOptions { ReadOnly = true, FollowBacking = false });
        long sub = dump.SubclusterSize;
        int runs = 0;
        for (long pos = 0; pos < disk.Length;)
        {
            // Requests of every size: a subcluster, a cluster and a bit, far past the end.
            long asked = random.Next(4) switch { 0 => sub, 1 => dump.ClusterSize + random.Next(1, 4096), 2 => random.NextInt64(1, 64L << 20), _ => long.MaxValue / 2 };
            long want = Math.Min(asked, disk.Length - pos);
            var run = disk.GetBlockStatus(pos, asked);
            Assert.That(run.Length, Is.InRange(1, want), $"run at {pos} (seed {Seed})");
            var first = Expected(dump, pos);
            for (long at = pos; at < pos + run.Length; at = ((at / sub) + 1) * sub)
            {
                var e = Expected(dump, at);
                long host = run.HostOffset < 0 ? -1 : run.HostOffset + (at - pos);
                Assert.That((run.IsPresent, run.IsZero, run.IsData, host), Is.EqualTo((e.Present, e.Zero, e.Data, e.Host < 0 ? -1 : e.Host + (at % sub))),
                    $"subcluster at {at} inside the run at {pos}+{run.Length}: {dump[at / dump.ClusterSize]} (seed {Seed})");
            }

            long next = pos + run.Length;
            if (next < pos + want && !first.Compressed)
            {
                var n = Expected(dump, next);
                bool continues = (n.Present, n.Zero, n.Data) == (first.Present, first.Zero, first.Data) && !n.Compressed
                    && (n.Host < 0 ? run.HostOffset < 0 : run.HostOffset >= 0 && n.Host == run.HostOffset + run.Length);
                Assert.That(continues, Is.False, $"the run at {pos} stopped at {next} although the next subcluster continues it: {dump[next / dump.ClusterSize]} (seed {Seed})");
            }

            pos = next;
            runs++;
        }

        Assert.That(runs, Is.LessThan(disk.Length / sub), "runs span more than one subcluster");
    }

    /// <summary>The spec §7 table (and §4.2 for standard entries), decoded here without the engine.</summary>
    private static (bool Present, bool Zero, bool Data, long Host, bool Compressed) Expected(L2Dump dump, long guest)
    {
        var slot = dump[guest / dump.ClusterSize];
        if (slot is not { } s)
        {
            return (false, true, false, -1, false);
        }

        if (s.IsCompressed)
        {
            return (true, false, true, -1, true);
        }

        long cluster = s.HostOffset;
        int index = (int)(guest % dump.ClusterSize / dump.SubclusterSize);
        long host = cluster == 0 ? -1 : cluster + (index * dump.SubclusterSize);
        bool zero = dump.ExtendedL2 ? (s.ZeroBits >> index & 1) != 0 : s.ZeroFlag;
        bool data = dump.ExtendedL2 ? (s.AllocationBits >> index & 1) != 0 : cluster != 0;
        if (zero)
        {
            return (true, true, false, host, false);
        }

        return data ? (true, false, true, host, false) : (false, true, false, host, false);
    }
}
