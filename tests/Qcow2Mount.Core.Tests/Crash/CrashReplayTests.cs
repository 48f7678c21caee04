using System.Diagnostics;
using System.Globalization;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;
using Qcow2Mount.TestSupport.Crash;

namespace Qcow2Mount.Core.Tests.Crash;

/// <summary>
/// Every crash point, replayed. Killing the process only tests what the kernel already had; a power cut can also lose
/// any part of what was written since the last fdatasync, in any order. Each workload runs once through recording
/// devices; then, at every flush (the power fails just before it) and at the end, the image files are rebuilt with
/// nothing, everything, prefixes and random subsets of the unflushed writes (in 4 KiB pages), and every state must:
/// pass <c>qemu-img check</c> without corruption (leaks are allowed), read back everything flushed before the crash
/// (and only data written at some point elsewhere), keep a snapshot's content, and stay consistent after one more
/// write and flush through the engine. A dirty (lazy refcounts) state is repaired by the read-write open, as QEMU does
/// (and, on a sample, by qemu-img check -r all); qemu-img check must find no corruption in it even before the repair,
/// because the engine keeps the write order with lazy refcounts too.
/// Seeded: QCOW2MOUNT_CRASH_SEED replays a run, QCOW2MOUNT_CRASH_STATES sets the states checked per workload (a large
/// number checks them all), QCOW2MOUNT_CRASH_SECONDS the time budget per workload.
/// </summary>
[TestFixture]
[Category("slow")]
[Parallelizable(ParallelScope.Children)]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class CrashReplayTests
{
    /// <summary>
    /// States checked per workload by default. A state costs 40-100 ms (two qemu-img checks, the engine's recovery and
    /// write, a few more qemu-img runs on every tenth): 10 workloads × 64 states ≈ 30-60 s of work, half that on two cores.
    /// </summary>
    private const int DefaultStatesPerWorkload = 64;

    /// <summary>A workload stops checking states after this long (a slow machine gets fewer states, not a slow CI).</summary>
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(
        Environment.GetEnvironmentVariable("QCOW2MOUNT_CRASH_SECONDS") is { Length: > 0 } b ? double.Parse(b, CultureInfo.InvariantCulture) : 12);

    /// <summary>
    /// Every this-many-th state also gets the costly checks (a few qemu-img runs): the snapshot applied by QEMU equals
    /// its content before the workload, and a dirty state is repaired by QEMU too (qemu-img check -r all).
    /// </summary>
    private const int ThoroughEvery = 10;

    internal static readonly int Seed = Environment.GetEnvironmentVariable("QCOW2MOUNT_CRASH_SEED") is { Length: > 0 } s
        ? int.Parse(s, CultureInfo.InvariantCulture)
        : Random.Shared.Next();

    private static readonly int StatesPerWorkload = Environment.GetEnvironmentVariable("QCOW2MOUNT_CRASH_STATES") is { Length: > 0 } n
        ? int.Parse(n, CultureInfo.InvariantCulture)
        : DefaultStatesPerWorkload;

    public static IEnumerable<TestCaseData> Workloads() =>
        CrashWorkloads.All.Select(w => new TestCaseData(w.Name).SetArgDisplayNames(w.Name));

    [TestCaseSource(nameof(Workloads))]
    public void PowerCut_AnyFlushPointAnySurvivingWrites_ConsistentAndFlushedDataKept(string name)
    {
        var workload = CrashWorkloads.All.Single(w => w.Name == name);
        int seed = Seed ^ StableHash(workload.Name);
        // Memory-backed when possible: each state is synced by the engine's recovery write, which costs nothing there.
        using var dir = new TempDir("crash", Directory.Exists("/dev/shm") ? "/dev/shm" : null);
        string stateImage = dir.File("state.qcow2");
        string? stateData = workload.DataFile ? dir.File("state.data") : null;
        workload.Prepare(stateImage, stateData);

        string initialRaw = dir.File("initial.raw");
        QemuTools.ConvertToRaw(stateImage, initialRaw);
        string snapshotRaw = dir.File("snapshot.raw");
        if (workload.Snapshot is not null)
        {
            QemuTools.ConvertToRaw(stateImage, snapshotRaw, snapshotName: workload.Snapshot);
        }

        // The workload runs on copies; the image names state.data as its data file, so the states are checked in place.
        string workImage = dir.File("work.qcow2");
        string? workData = stateData is null ? null : dir.File("work.data");
        File.Copy(stateImage, workImage);
        if (stateData is not null)
        {
            File.Copy(stateData, workData!);
        }

        var log = new StorageLog();
        var model = new GuestModel(log, File.ReadAllBytes(initialRaw));
        var session = new CrashSession(workImage, workData, workload.Options, log, model, new Random(seed));
        workload.Run(session);
        if (workload.Exercised is { } exercised)
        {
            Assert.That(exercised(log.InitialContent(0), File.ReadAllBytes(workImage)), Is.True, $"{workload.Name}: the run did not take the path it is named for");
        }

        var generator = new CrashStateGenerator(log);
        var random = new Random(seed);
        var sample = generator.Plan(random, StatesPerWorkload);
        var cursor = model.CreateCursor();
        var failures = new List<string>();
        int states = 0, dirty = 0;
        var clock = Stopwatch.StartNew();
        bool outOfTime = false;
        foreach (var state in generator.Replay(sample))
        {
            if (clock.Elapsed > Budget)
            {
                outOfTime = true;
                break;
            }

            state.WriteFile(0, stateImage);
            if (stateData is not null)
            {
                state.WriteFile(1, stateData);
            }

            // Incompatible feature bit 0 (byte 79): refcounts may be stale; the read-write open rebuilds them.
            dirty += state.Content(0)[79] & 1;
            string? problem = CheckState(state, stateImage, cursor, workload.Snapshot, snapshotRaw, thorough: states % ThoroughEvery == 0, dir, new Random(seed + state.Plan.CrashIndex));
            states++;
            if (problem is not null)
            {
                failures.Add($"{state}: {problem}");
                if (failures.Count == 1)
                {
                    KeepForDebugging(workload, seed, stateImage, stateData);
                }
            }
        }

        TestContext.Out.WriteLine($"{workload.Name}: {log.Count} storage operations, {generator.CrashPoints.Count} crash points, {generator.DistinctStates} distinct crash states, {states} checked ({dirty} with the dirty bit) in {clock.Elapsed.TotalSeconds:F1} s{(outOfTime ? $", stopped by the {Budget.TotalSeconds} s budget" : string.Empty)} (seed {Seed})");
        Assert.That(failures, Is.Empty, $"{workload.Name}: {failures.Count} of {states} crash states failed; replay with QCOW2MOUNT_CRASH_SEED={Seed}\n{string.Join("\n", failures.Take(5))}");
        Assert.That(states, outOfTime ? Is.Positive : Is.EqualTo(Math.Min(StatesPerWorkload, generator.DistinctStates)), "states checked");
        if (workload.Name == "lazy refcounts")
        {
            Assert.That(dirty, Is.Positive, "crash states with the dirty bit (the repair on open was never exercised)");
        }
    }

    /// <summary>Null when the state passes every check, else the first problem.</summary>
    private static string? CheckState(CrashState state, string image, GuestModel.Cursor cursor, string? snapshot, string snapshotRaw, bool thorough, TempDir dir, Random random)
    {
        var check = QemuConsistency(image);
        if (check is not null)
        {
            return "qemu-img check of the crash state: " + check;
        }

        if (thorough && (state.Content(0)[79] & 1) != 0)
        {
            string copy = dir.File("repaired-by-qemu.qcow2");
            File.Copy(image, copy, overwrite: true);
            var repair = QemuTools.QemuImg(["check", "-r", "all", copy], 0, 1, 2, 3);
            if (repair.ExitCode != 0)
            {
                return $"qemu-img check -r all of the dirty crash state: exit {repair.ExitCode}: {repair.StandardOutput.Trim()} {repair.StandardError.Trim()}";
            }
        }

        var options = new ImageOpenOptions { Lock = false, CacheCleanIntervalSeconds = 0 };
        long offset;
        byte[] extra;
        try
        {
            // Read-write: a dirty image gets its refcounts rebuilt here first, as QEMU's read-write open does.
            using var disk = Qcow2Image.Open(image, options);
            string? content = cursor.Verify(state.Plan.CrashIndex, disk);
            if (content is not null)
            {
                return content;
            }

            extra = new byte[random.Next(1, 65) * 512];
            random.NextBytes(extra);
            offset = random.NextInt64((disk.Length - extra.Length) / 512 + 1) * 512;
            disk.Write(offset, extra);
            disk.Flush();
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ArgumentException)
        {
            return $"the engine on the crash state: {e.GetType().Name}: {e.Message}";
        }

        check = QemuConsistency(image);
        if (check is not null)
        {
            return $"qemu-img check after one more write at 0x{offset:x}+{extra.Length}: {check}";
        }

        using (var disk = Qcow2Image.Open(image, options with { ReadOnly = true }))
        {
            var back = new byte[extra.Length];
            disk.Read(offset, back);
            if (!back.AsSpan().SequenceEqual(extra))
            {
                return $"the write at 0x{offset:x}+{extra.Length} after recovery does not read back";
            }
        }

        if (thorough && snapshot is not null)
        {
            // Applied for real (qemu-img convert -l reads a snapshot at the current disk size only).
            string copy = dir.File("applied.qcow2");
            File.Copy(image, copy, overwrite: true);
            QemuTools.QemuImg("snapshot", "-a", snapshot, copy);
            var compare = QemuTools.CompareResult(copy, snapshotRaw, "qcow2", "raw");
            if (compare.ExitCode != 0)
            {
                return $"snapshot {snapshot} changed: {compare.StandardOutput.Trim()}";
            }
        }

        return null;
    }

    /// <summary>qemu-img check: null when it finds no corruption and no error (leaks are a crash's normal cost).</summary>
    internal static string? QemuConsistency(string image)
    {
        try
        {
            var result = QemuTools.Check(image);
            return result.Corruptions == 0 && result.CheckErrors == 0 && result.ExitCode is 0 or 3 ? null : result.ToString();
        }
        catch (ExternalCommandException e)
        {
            return e.Message;
        }
    }

    private static void KeepForDebugging(CrashWorkload workload, int seed, string image, string? dataFile) => KeepForDebugging(workload.Name, seed, image, dataFile);

    /// <summary>Copies the first failing state to a kept directory named after the workload and seed.</summary>
    internal static void KeepForDebugging(string workload, int seed, string image, string? dataFile)
    {
        string keep = Path.Combine(Path.GetTempPath(), $"qcow2mount-crash-failure-{new string(workload.Where(char.IsAsciiLetterOrDigit).ToArray())}-{seed}");
        Directory.CreateDirectory(keep);
        File.Copy(image, Path.Combine(keep, "state.qcow2"), overwrite: true);
        if (dataFile is not null)
        {
            File.Copy(dataFile, Path.Combine(keep, "state.data"), overwrite: true);
        }

        TestContext.Out.WriteLine($"first failing state kept in {keep}");
    }

    /// <summary>FNV-1a: the same per-workload seed in every process (string.GetHashCode is randomised).</summary>
    internal static int StableHash(string text)
    {
        uint hash = 2166136261;
        foreach (char c in text)
        {
            hash = (hash ^ c) * 16777619;
        }

        return (int)hash;
    }
}
