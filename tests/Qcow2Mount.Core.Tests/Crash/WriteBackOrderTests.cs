using System.Buffers.Binary;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.TestSupport;
using Qcow2Mount.TestSupport.Crash;

namespace Qcow2Mount.Core.Tests.Crash;

/// <summary>
/// Issue 18 (target 6, workload 7): L2 write-back in the crash-safe order at few syncs. Allocating 4 KiB writes visit
/// more L2 tables than the cache holds, round robin, so every write evicts a dirty slice; the storage log is then read
/// back against the final image's L1 table, and every change is classed as header, L1 entry, L2 table, or what an L2
/// entry depends on (data, refcount blocks, length changes). The order rule checked on every prefix of the log: a write to an L2 table that the
/// L1 table names finds every earlier data and refcount-block write synced; an L1 entry finds them synced too, and the
/// content of the new table it names. The sync bound: one sync per batch of evicted slices (and one per new table), not
/// two per eviction (data, then refcount blocks) as before.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
public sealed class WriteBackOrderTests
{
    private const int Cluster = 4096; // an L2 table of 512 entries maps 2 MiB
    private const long TableSpan = 2L << 20;
    private const int Tables = 128;
    private const int Rounds = 3;
    private const int CacheEntries = 32;

    [Test]
    public void AllocatingWrites_EveryWriteEvictsDirtySlice_SyncsOncePerBatchInOrder()
    {
        using var dir = new TempDir("write-back", "/dev/shm");
        var run = Run(dir, existingTables: true);
        Assert.Multiple(() =>
        {
            Assert.That(run.Violations, Is.Empty, "order violations");
            Assert.That(run.EvictionBatch, Is.EqualTo(CacheEntries / 8), "slices written back per dirty eviction");
            // Tables × rounds writes, each one evicting a dirty slice: one prerequisite (one sync) per batch.
            Assert.That(run.SyncsBeforeFlush, Is.LessThanOrEqualTo((Tables * Rounds / run.EvictionBatch) + 4), "syncs for the writes");
            Assert.That(run.SyncsBeforeFlush, Is.Positive, "syncs for the writes");
        });
        AssertImage(dir, run.Image);
    }

    [Test]
    public void AllocatingWrites_NewTablesThroughSmallCache_OneSyncPerTableInOrder()
    {
        using var dir = new TempDir("write-back", "/dev/shm");
        var run = Run(dir, existingTables: false);
        Assert.Multiple(() =>
        {
            Assert.That(run.Violations, Is.Empty, "order violations");
            Assert.That(run.NewTables, Is.EqualTo(Tables), "L1 entries written");
            // A new table costs one sync (table, data and refcounts together) before its L1 entry, plus the batches.
            Assert.That(run.SyncsBeforeFlush, Is.LessThanOrEqualTo(Tables + (Tables * Rounds / run.EvictionBatch) + 4), "syncs for the writes");
        });
        AssertImage(dir, run.Image);
    }

    private static byte Pattern(int table, int round) => (byte)(1 + ((table * Rounds) + round) % 251);

    private static RunResult Run(TempDir dir, bool existingTables)
    {
        string image = dir.File("disk.qcow2");
        QemuTools.Create(image, Tables * TableSpan, new Dictionary<string, string> { ["cluster_size"] = Cluster.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        if (existingTables)
        {
            QemuTools.QemuIo(image, Enumerable.Range(0, Tables).Select(t => $"write -P 0 {t * TableSpan} 4k").ToArray());
        }

        var log = new StorageLog();
        int file = log.AddFile(image);
        int syncs, batch;
        var order = Enumerable.Range(0, Tables).OrderBy(t => (t * 37) % Tables).ToArray();
        using (var disk = Qcow2Image.Open(log.Wrap(file, FileBlockDevice.Open(image, readOnly: false)), new ImageOpenOptions { CacheSize = CacheEntries * Cluster, CacheCleanIntervalSeconds = 0 }))
        {
            var block = new byte[4096];
            for (int round = 1; round <= Rounds; round++)
            {
                foreach (int t in order)
                {
                    Array.Fill(block, Pattern(t, round));
                    disk.Write((t * TableSpan) + (round * 4096L), block); // a new cluster in table t
                }
            }

            syncs = log.Operations.Count(o => o.Kind == StorageOperationKind.Flush);
            batch = disk.L2Cache.EvictionBatch;
            disk.Flush();
        }

        var (violations, newTables) = CheckOrder(log, File.ReadAllBytes(image));
        TestContext.Out.WriteLine($"{Tables * Rounds} writes, {newTables} new tables: {syncs} syncs, {log.Count} storage operations");
        return new RunResult(image, syncs, batch, violations, newTables);
    }

    /// <summary>Walks the log with the final image's layout; returns the order violations and the L1 entries written.</summary>
    private static (List<string> Violations, int NewTables) CheckOrder(StorageLog log, byte[] final)
    {
        long l1 = (long)BinaryPrimitives.ReadUInt64BigEndian(final.AsSpan(40));
        int l1Size = (int)BinaryPrimitives.ReadUInt32BigEndian(final.AsSpan(36));
        const ulong OffsetMask = 0x00ff_ffff_ffff_fe00UL;
        var tables = Entries(final, l1, l1Size).ToHashSet();
        var linked = Entries(log.InitialContent(0), l1, l1Size).ToHashSet();

        var violations = new List<string>();
        StorageOperation? unsyncedDependency = null; // the first data or refcount-block change since the last sync
        var unsyncedTables = new Dictionary<long, StorageOperation>(); // L2 table content written since the last sync
        int newTables = 0;
        foreach (var op in log.Operations)
        {
            if (op.Kind == StorageOperationKind.Flush)
            {
                unsyncedDependency = null;
                unsyncedTables.Clear();
                continue;
            }

            long cluster = op.Offset / Cluster * Cluster;
            if (op.Kind == StorageOperationKind.Write && cluster == l1 / Cluster * Cluster && op.Offset >= l1)
            {
                long table = (long)(BinaryPrimitives.ReadUInt64BigEndian(op.Data) & OffsetMask);
                if (unsyncedTables.TryGetValue(table, out var content))
                {
                    violations.Add($"{op} (L1 entry) before the sync of the table it names, {content}");
                }

                if (unsyncedDependency is not null)
                {
                    violations.Add($"{op} (L1 entry) before the sync of {unsyncedDependency}");
                }

                newTables++;
                linked.Add(table);
            }
            else if (op.Kind == StorageOperationKind.Write && tables.Contains(cluster))
            {
                // A table nothing names yet (a new table's first content) may be written any time before its L1 entry.
                if (linked.Contains(cluster) && unsyncedDependency is not null)
                {
                    violations.Add($"{op} (L2 table) before the sync of {unsyncedDependency}");
                }

                unsyncedTables.TryAdd(cluster, op);
            }
            else if (cluster != 0)
            {
                // Data, refcount blocks, length changes: what an L2 entry may depend on.
                unsyncedDependency ??= op;
            }
        }

        return (violations, newTables);

        IEnumerable<long> Entries(byte[] content, long offset, int count)
        {
            for (int i = 0; i < count; i++)
            {
                long entry = (long)(BinaryPrimitives.ReadUInt64BigEndian(content.AsSpan((int)offset + (i * 8))) & OffsetMask);
                if (entry != 0)
                {
                    yield return entry;
                }
            }
        }
    }

    /// <summary>QEMU's view of the result: a clean check and every write of the last round (and the first, where kept) read back.</summary>
    private static void AssertImage(TempDir dir, string image)
    {
        var check = QemuTools.Check(image);
        Assert.That(check.ExitCode, Is.Zero, check.Output);
        string raw = dir.File("disk.raw");
        QemuTools.ConvertToRaw(image, raw);
        using var handle = File.OpenHandle(raw);
        var back = new byte[4096];
        var wrong = new List<string>();
        for (int t = 0; t < Tables; t++)
        {
            for (int round = 1; round <= Rounds; round++)
            {
                RandomAccess.Read(handle, back, (t * TableSpan) + (round * 4096L));
                if (back.Any(b => b != Pattern(t, round)))
                {
                    wrong.Add($"table {t} round {round}");
                }
            }
        }

        Assert.That(wrong, Is.Empty, "writes that do not read back through qemu-img");
    }

    private sealed record RunResult(string Image, int SyncsBeforeFlush, int EvictionBatch, List<string> Violations, int NewTables);
}
