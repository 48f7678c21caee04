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
/// O_DIRECT writes are not serialised (parallel direct writes) and reads never are: the second test lets them meet
/// metadata write-back in the engine.
/// </summary>
[Category(TestCategories.Mount)]
[Category(TestCategories.Slow)]
public sealed class ConcurrentWriteTests : ScratchFixture
{
    private const int Threads = 8;
    private const int Rounds = 4;
    private const int StripedClusters = 24;
    private const int OverlapWrites = 60;

    [OneTimeSetUp]
    public void RequireTools() => RequiredTools.Require("qemu-img");

    [TestCase("extended_l2=on,cluster_size=128k", 128 << 10)]
    [TestCase("extended_l2=off,cluster_size=64k", 64 << 10)]
    public void EightThreads_SameClusters_DisjointStripesExactOverlapsFromAWriter(string options, int clusterSize)
    {
        string image = Scratch.PathOf("disk.qcow2");
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", options, image, "64M");
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
        var check = ProcessRunner.Capture("qemu-img", "check", image);
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

    /// <summary>
    /// Four threads write new clusters with O_DIRECT, each in its own L2 table, while two threads read all over the disk;
    /// a 128 KiB metadata cache makes nearly every request evict a dirty L2 table, whose write-back first grows the
    /// image file over clusters written in part. That ftruncate used to cut off a write into a later cluster that
    /// reached the file just before it: a few of 2000 writes read back as zeros on every run (the engine test
    /// DataClusterGrowthTests.Flush_WriteIntoLaterClusterLandsBeforeItsFtruncate_WriteKept forces that interleaving).
    /// Every write must read back, through the mount and from the image after unmount.
    /// </summary>
    [Test]
    public void DirectWritesIntoNewClusters_ReadsEvictingMetadata_NoWriteLost()
    {
        const int seed = 4242, writers = 4, writesPerThread = 500, clusterSize = 64 << 10, align = Posix.DirectAlignment;
        const long region = 256L << 20; // the guest bytes one extended L2 table maps at 64 KiB clusters
        string image = Scratch.PathOf("disk.qcow2");
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", $"extended_l2=on,cluster_size={clusterSize}", image, $"{writers * region}");
        string mnt = Scratch.NewDirectory("mnt");
        string raw = Path.Combine(mnt, "disk.raw");
        var written = new List<(long Offset, int Length, int DataSeed)>[writers];

        Cli.Mount("--cache-size", "128k", image, mnt);
        List<string> lostThroughMount;
        using (var file = Posix.OpenDirect(raw))
        {
            int writersLeft = writers;
            var errors = ThreadGang.Run(writers + 2, t =>
            {
                var random = new Random(seed + t);
                var buffer = Posix.DirectBuffer(256 << 10);
                if (t >= writers)
                {
                    while (Volatile.Read(ref writersLeft) > 0)
                    {
                        RandomAccess.Read(file, buffer.Span[..clusterSize], random.NextInt64(writers * region / clusterSize) * clusterSize);
                    }

                    return;
                }

                try
                {
                    // Forward through the thread's own region, with gaps: writes that end inside a new cluster and
                    // writes that fill new clusters whole, interleaved with the other threads' allocations.
                    written[t] = new();
                    long pos = t * region;
                    for (int i = 0; i < writesPerThread; i++)
                    {
                        int length = random.Next(4) switch { 0 => align, 1 => clusterSize, 2 => 2 * clusterSize, _ => random.Next(1, 41) * align };
                        pos += random.Next(17) * align;
                        if (random.Next(2) == 0)
                        {
                            pos = (pos + clusterSize - 1) / clusterSize * clusterSize;
                        }

                        int dataSeed = HashCode.Combine(seed, t, i);
                        new Random(dataSeed).NextBytes(buffer.Span[..length]);
                        RandomAccess.Write(file, buffer.Span[..length], pos);
                        written[t].Add((pos, length, dataSeed));
                        pos += length;
                    }
                }
                finally
                {
                    Interlocked.Decrement(ref writersLeft);
                }
            });
            Assert.That(errors, Is.Empty, string.Join('\n', errors));

            var back = Posix.DirectBuffer(256 << 10);
            lostThroughMount = LostWrites(written, (offset, length) => RandomAccess.Read(file, back.Span[..length], offset) == length ? back.Span[..length] : []);
        }

        Cli.Unmount(mnt);
        var check = ProcessRunner.Capture("qemu-img", "check", image);
        string converted = Scratch.PathOf("disk.raw");
        QemuTools.Ok("qemu-img", "convert", "-f", "qcow2", "-O", "raw", image, converted);
        List<string> lostInImage;
        using (var file = File.OpenHandle(converted))
        {
            var back = new byte[256 << 10];
            lostInImage = LostWrites(written, (offset, length) => back.AsSpan(0, RandomAccess.Read(file, back.AsSpan(0, length), offset)));
        }

        Assert.Multiple(() =>
        {
            Assert.That(lostThroughMount, Is.Empty, $"seed {seed}: {lostThroughMount.Count} of {writers * writesPerThread} writes lost, read back through the mount:\n{string.Join('\n', lostThroughMount.Take(20))}");
            Assert.That(lostInImage, Is.Empty, $"seed {seed}: {lostInImage.Count} of {writers * writesPerThread} writes lost, read by QEMU after unmount:\n{string.Join('\n', lostInImage.Take(20))}");
            Assert.That(check.ExitCode, Is.Zero, check.ToString());
        });
    }

    /// <summary>Reads back every recorded write (offset, length, data seed) with <paramref name="read"/>; describes those that differ.</summary>
    private static List<string> LostWrites(List<(long Offset, int Length, int DataSeed)>[] written, ReadBack read)
    {
        var lost = new List<string>();
        var expected = new byte[256 << 10];
        for (int t = 0; t < written.Length; t++)
        {
            foreach (var (offset, length, dataSeed) in written[t])
            {
                var want = expected.AsSpan(0, length);
                new Random(dataSeed).NextBytes(want);
                var got = read(offset, length);
                if (!got.SequenceEqual(want))
                {
                    int first = got.CommonPrefixLength(want);
                    bool zeros = first < got.Length && got[first..].IndexOfAnyExcept((byte)0) < 0;
                    lost.Add($"thread {t}: write at 0x{offset:x}+{length} differs from 0x{offset + first:x}{(zeros ? " (zeros to its end)" : "")}");
                }
            }
        }

        return lost;
    }

    private delegate ReadOnlySpan<byte> ReadBack(long offset, int length);

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
