using System.Diagnostics;
using System.Globalization;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.TestSupport;
using Qcow2Mount.TestSupport.Crash;

namespace Qcow2Mount.Core.Tests.Crash;

/// <summary>
/// Power cuts during qcow2mount snapshot -c / -d / -a (SnapshotManager), replayed like <see cref="CrashReplayTests"/>:
/// the operation runs once through a recording device, then every flush point (and the end) is rebuilt with nothing,
/// everything, prefixes and random subsets of the unflushed 4 KiB pages. Every state must: pass qemu-img check without
/// corruption; list only snapshots that read (qemu-img convert -l snapshot.id=ID) exactly what they held when they were
/// taken; have a live disk that reads either what it held before the operation or what it holds after; and stay
/// consistent after one more write through the engine (a COPIED flag left on a shared cluster would let that write
/// change a snapshot: on every fourth state the snapshots are read again after it).
/// Leaks are allowed: QEMU's own create, delete and apply leak at the same points (the L1 copy and the raised refcounts
/// before the table names the snapshot; the lowered references after the table drops it or the header switches L1).
/// One kind of what qemu-img check counts as corruption is allowed too, and only that one: a COPIED flag missing on an
/// active entry whose refcount is 1 (see <see cref="Corruption"/>); a flag left on a cluster with refcount above 1 fails.
/// Knobs as for <see cref="CrashReplayTests"/>: QCOW2MOUNT_CRASH_SEED, QCOW2MOUNT_CRASH_STATES, QCOW2MOUNT_CRASH_SECONDS.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class SnapshotCrashReplayTests
{
    private const long KiB = 1024, MiB = 1024 * 1024;

    /// <summary>A state costs 60-150 ms (check, info, a raw read of the disk and of each snapshot, a write, a check): 8 workloads × 20 ≈ 15 s of work, plus about 1 s each to make the image.</summary>
    private static readonly int StatesPerWorkload = Environment.GetEnvironmentVariable("QCOW2MOUNT_CRASH_STATES") is { Length: > 0 } n
        ? int.Parse(n, CultureInfo.InvariantCulture)
        : 20;

    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(
        Environment.GetEnvironmentVariable("QCOW2MOUNT_CRASH_SECONDS") is { Length: > 0 } b ? double.Parse(b, CultureInfo.InvariantCulture) : 4);

    private const string Standard = "cluster_size=4096";
    private const string Extended = "extended_l2=on,cluster_size=16384";

    /// <summary>
    /// 4 KiB clusters: an L2 table maps 2 MiB, so 8 MiB has four; extended 16 KiB clusters: a table maps 16 MiB, 20 MiB
    /// has two. The prefills leave some tables shared between the live disk and the snapshots (never written since)
    /// and some copied (written since), and data clusters shared by the live disk and one or two snapshots, or by one
    /// or two snapshots only.
    /// </summary>
    private static readonly SnapshotWorkload[] Workloads =
    [
        new("create, standard L2", Standard, 8 * MiB, ["w 0x11 0 3M", "w -c 0x12 5M 64k", "s s1", "w 0x13 1M 256k", "w 0x14 6M 8k"], Op.Create, "s2"),
        new("create, extended L2", Extended, 20 * MiB, ["w 0x11 0 1M", "w 0x12 17M 1M", "s s1", "w 0x13 2k 4k", "z 1M 64k"], Op.Create, "s2"),
        new("create, every table shared", Standard, 8 * MiB, ["w 0x11 0 7M", "s s1"], Op.Create, "s2"),
        new("delete, shared with live and a snapshot, standard L2", Standard, 8 * MiB, ["w 0x21 0 3M", "s s1", "w 0x22 512k 1M", "s s2", "w 0x23 6M 1M", "w 0x24 0 64k"], Op.Delete, "s1"),
        new("delete, shared with live and a snapshot, extended L2", Extended, 20 * MiB, ["w 0x21 0 2M", "w 0x25 19M 64k", "s s1", "w 0x22 4k 8k", "w 0x26 1M 512k", "s s2", "w 0x23 18M 1M", "w 0x24 0 32k"], Op.Delete, "s1"),
        new("delete, every table shared", Standard, 8 * MiB, ["w 0x31 0 5M", "s s1"], Op.Delete, "s1"),
        new("apply, standard L2", Standard, 8 * MiB, ["w 0x41 0 3M", "s s1", "w 0x42 1M 1M", "s s2", "w 0x43 6M 1M", "d 0 512k"], Op.Apply, "s1"),
        new("apply, extended L2", Extended, 20 * MiB, ["w 0x41 0 1M", "w 0x44 17M 64k", "s s1", "w 0x42 6k 4k", "s s2", "w 0x43 18M 1M", "z 0 16k"], Op.Apply, "s1"),
    ];

    private enum Op
    {
        Create,
        Delete,
        Apply,
    }

    public static IEnumerable<TestCaseData> Cases() => Workloads.Select(w => new TestCaseData(w.Name).SetArgDisplayNames(w.Name));

    [TestCaseSource(nameof(Cases))]
    public void PowerCut_DuringSnapshotOperation_NoCorruptionSnapshotsIntactLiveBeforeOrAfter(string name) =>
        Replay(Workloads.Single(w => w.Name == name), CrashReplayTests.Seed);

    /// <summary>
    /// Seeds that found a defect. 1090606395: create raised the refcounts (stable) before it cleared COPIED in the
    /// active tables, so a crash between left COPIED on clusters with refcount 2 (8 of 20 states corrupt).
    /// </summary>
    [TestCase("create, standard L2", 1090606395)]
    public void PowerCut_FailingSeedOfAFixedDefect_Passes(string name, int seed) =>
        Replay(Workloads.Single(w => w.Name == name), seed);

    private static void Replay(SnapshotWorkload workload, int globalSeed)
    {
        int seed = globalSeed ^ CrashReplayTests.StableHash(workload.Name);
        using var dir = new TempDir("snapcrash", Directory.Exists("/dev/shm") ? "/dev/shm" : null);
        string state = dir.File("state.qcow2");
        Prepare(state, workload);

        // What every snapshot and the live disk hold before the operation (QEMU reads them).
        var expected = ListSnapshots(state).ToDictionary(s => s.Id, s => ReadSnapshot(state, s.Id, dir));
        byte[] before = ReadLive(state, dir);

        string work = dir.File("work.qcow2");
        File.Copy(state, work);
        var log = new StorageLog();
        int file = log.AddFile(work);
        using (var disk = Qcow2Image.Open(log.Wrap(file, FileBlockDevice.Open(work, readOnly: false)), new ImageOpenOptions { Lock = false, CacheCleanIntervalSeconds = 0 }))
        {
            var manager = disk.SnapshotManager();
            switch (workload.Operation)
            {
                case Op.Create:
                    expected[manager.Create(workload.Target, DateTimeOffset.UtcNow).Id] = before;
                    break;
                case Op.Delete:
                    manager.Delete(workload.Target);
                    break;
                default:
                    manager.Apply(workload.Target);
                    break;
            }
        }

        Assert.That(log.Unsynced(file), Is.Empty, "the operation returned with unsynced changes");
        byte[] after = ReadLive(work, dir);
        if (workload.Operation == Op.Apply)
        {
            string target = ListSnapshots(state).Single(s => s.Name == workload.Target).Id;
            Assert.That(after, Is.EqualTo(expected[target]), "the applied disk reads the snapshot");
        }
        else
        {
            Assert.That(after, Is.EqualTo(before), "the live disk is unchanged by create and delete");
        }

        var generator = new CrashStateGenerator(log);
        var plans = generator.Plan(new Random(seed), StatesPerWorkload);
        var failures = new List<string>();
        int states = 0, leaking = 0, copiedMissing = 0;
        var clock = Stopwatch.StartNew();
        bool outOfTime = false;
        foreach (var crash in generator.Replay(plans))
        {
            if (clock.Elapsed > Budget)
            {
                outOfTime = true;
                break;
            }

            crash.WriteFile(0, state);
            string? problem = CheckState(state, expected, before, after, thorough: states % 4 == 0, dir, new Random(seed + crash.Plan.CrashIndex), ref leaking, ref copiedMissing);
            states++;
            if (problem is not null)
            {
                failures.Add($"{crash}: {problem}");
                if (failures.Count == 1)
                {
                    CrashReplayTests.KeepForDebugging(workload.Name, seed, state, null);
                }
            }
        }

        TestContext.Out.WriteLine($"{workload.Name}: {log.Count} storage operations, {generator.CrashPoints.Count} crash points, {generator.DistinctStates} distinct crash states, {states} checked ({leaking} leaking, {copiedMissing} with COPIED missing at refcount 1) in {clock.Elapsed.TotalSeconds:F1} s{(outOfTime ? $", stopped by the {Budget.TotalSeconds} s budget" : string.Empty)} (seed {globalSeed})");
        Assert.That(failures, Is.Empty, $"{workload.Name}: {failures.Count} of {states} crash states failed; replay with QCOW2MOUNT_CRASH_SEED={globalSeed}\n{string.Join("\n", failures.Take(5))}");
        Assert.That(states, outOfTime ? Is.Positive : Is.EqualTo(Math.Min(StatesPerWorkload, generator.DistinctStates)), "states checked");
    }

    /// <summary>Null when the state passes every check, else the first problem.</summary>
    private static string? CheckState(string image, Dictionary<string, byte[]> expected, byte[] before, byte[] after, bool thorough, TempDir dir, Random random, ref int leaking, ref int copiedMissing)
    {
        var check = QemuTools.Check(image);
        if (Corruption(check) is { } corrupt)
        {
            return "qemu-img check of the crash state: " + corrupt;
        }

        leaking += check.Leaks > 0 ? 1 : 0;
        copiedMissing += check.Corruptions > 0 ? 1 : 0;
        if (thorough && check.Corruptions > 0)
        {
            string copy = dir.File("repaired.qcow2");
            File.Copy(image, copy, overwrite: true);
            var repair = QemuTools.QemuImg(["check", "-r", "leaks", copy], 0, 1, 2, 3);
            if (repair.ExitCode != 0)
            {
                return $"qemu-img check -r leaks does not repair the missing COPIED flags: exit {repair.ExitCode}";
            }
        }

        if (Snapshots(image, expected, dir) is { } snapshotProblem)
        {
            return snapshotProblem;
        }

        byte[] live = ReadLive(image, dir);
        if (!live.AsSpan().SequenceEqual(before) && !live.AsSpan().SequenceEqual(after))
        {
            return $"the live disk reads neither its content before the operation nor after it (first difference from before at 0x{FirstDifference(live, before):x}, from after at 0x{FirstDifference(live, after):x})";
        }

        // One more write through the engine (a dirty state is repaired by the read-write open first).
        var extra = new byte[random.Next(1, 33) * 512];
        random.NextBytes(extra);
        long offset = random.NextInt64((live.Length - extra.Length) / 512 + 1) * 512;
        try
        {
            using var disk = Qcow2Image.Open(image, new ImageOpenOptions { Lock = false, CacheCleanIntervalSeconds = 0 });
            disk.Write(offset, extra);
            disk.Flush();
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ArgumentException)
        {
            return $"the engine on the crash state: {e.GetType().Name}: {e.Message}";
        }

        if (Corruption(QemuTools.Check(image)) is { } recheck)
        {
            return $"qemu-img check after one more write at 0x{offset:x}+{extra.Length}: {recheck}";
        }

        return thorough ? Snapshots(image, expected, dir) is { } changed ? $"after one more write at 0x{offset:x}+{extra.Length}: {changed}" : null : null;
    }

    /// <summary>
    /// Null when qemu-img check finds nothing but leaks and COPIED flags missing on active entries whose refcount is 1.
    /// A flag and the refcount it mirrors live in different clusters, so any order has a crash point where they disagree
    /// (QEMU's own create and delete too, where the flag is on while the refcount is still 2); this side is harmless
    /// (the next write copies the cluster instead of writing in place) and qemu-img check -r leaks restores the flag.
    /// </summary>
    private static string? Corruption(QemuCheckResult check)
    {
        if (check.CheckErrors != 0 || check.ExitCode is not (0 or 2 or 3))
        {
            return check.ToString();
        }

        int harmless = check.Output.Split('\n').Count(l => l.StartsWith("ERROR OFLAG_COPIED ", StringComparison.Ordinal) && l.EndsWith(" refcount=1", StringComparison.Ordinal));
        return check.Corruptions == harmless ? null : check.ToString();
    }

    /// <summary>Every snapshot the state lists must be one we know and read what it held when taken.</summary>
    private static string? Snapshots(string image, Dictionary<string, byte[]> expected, TempDir dir)
    {
        foreach (var (id, name) in ListSnapshots(image))
        {
            if (!expected.TryGetValue(id, out var content))
            {
                return $"the snapshot table lists an unknown snapshot {id} ({name})";
            }

            byte[] actual = ReadSnapshot(image, id, dir);
            if (!actual.AsSpan().SequenceEqual(content))
            {
                return $"snapshot {id} ({name}) reads other data than when it was taken (first difference at 0x{FirstDifference(actual, content):x})";
            }
        }

        return null;
    }

    private static List<(string Id, string Name)> ListSnapshots(string image)
    {
        var info = QemuTools.Info(image);
        return info.TryGetProperty("snapshots", out var list)
            ? list.EnumerateArray().Select(s => (s.GetProperty("id").GetString()!, s.GetProperty("name").GetString()!)).ToList()
            : [];
    }

    private static byte[] ReadSnapshot(string image, string id, TempDir dir)
    {
        string raw = dir.File("snapshot.raw");
        QemuTools.QemuImg("convert", "-U", "-l", "snapshot.id=" + id, "-O", "raw", image, raw);
        return File.ReadAllBytes(raw);
    }

    private static byte[] ReadLive(string image, TempDir dir)
    {
        string raw = dir.File("live.raw");
        QemuTools.ConvertToRaw(image, raw);
        return File.ReadAllBytes(raw);
    }

    private static long FirstDifference(byte[] a, byte[] b) => a.AsSpan().CommonPrefixLength(b);

    /// <summary>qemu-img create, then the prefill: "w P OFF LEN" (qemu-io write -P), "w -c P OFF LEN" (compressed), "z OFF LEN" (write -z), "d OFF LEN" (discard), "s NAME" (qemu-img snapshot -c).</summary>
    private static void Prepare(string image, SnapshotWorkload workload)
    {
        QemuTools.QemuImg("create", "-q", "-f", "qcow2", "-o", workload.Options, image, workload.Size.ToString(CultureInfo.InvariantCulture));
        foreach (string step in workload.Prefill)
        {
            var p = step.Split(' ');
            switch (p[0])
            {
                case "s":
                    QemuTools.CreateSnapshot(image, p[1]);
                    break;
                case "w" when p[1] == "-c":
                    QemuTools.QemuIo(image, $"write -c -P {p[2]} {p[3]} {p[4]}");
                    break;
                case "w":
                    QemuTools.QemuIo(image, $"write -P {p[1]} {p[2]} {p[3]}");
                    break;
                case "z":
                    QemuTools.QemuIo(image, $"write -z {p[1]} {p[2]}");
                    break;
                case "d":
                    QemuTools.QemuIo(image, $"discard {p[1]} {p[2]}");
                    break;
                default:
                    throw new ArgumentException($"unknown prefill step {step}");
            }
        }
    }

    private sealed record SnapshotWorkload(string Name, string Options, long Size, string[] Prefill, Op Operation, string Target);
}
