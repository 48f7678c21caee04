using System.Diagnostics;
using System.Security.Cryptography;

namespace Qcow2Mount.Fuzz;

/// <summary>Settings of one deterministic in-process fuzzing run.</summary>
public sealed record FuzzSettings
{
    public int Seed { get; init; } = 1;

    /// <summary>Stop after this long (0 = no time bound).</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Stop after this many executions (0 = no count bound).</summary>
    public long MaxExecutions { get; init; }

    /// <summary>One execution longer than this is a hang.</summary>
    public TimeSpan HangTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Managed bytes one execution may allocate before it counts as unbounded allocation.</summary>
    public long MaxAllocatedBytes { get; init; } = 512L << 20;

    /// <summary>Where findings are written (null = not written).</summary>
    public string? FindingsDirectory { get; init; }

    public Action<string>? Log { get; init; }

    /// <summary>What to do after a hang was saved; the default ends the process (a hung execution cannot be stopped).</summary>
    public Action<string?> OnHang { get; init; } = _ => Environment.Exit(3);
}

/// <summary>What a run did.</summary>
public sealed record FuzzReport(long Executions, TimeSpan Elapsed, int CorpusSize, IReadOnlyCollection<string> Outcomes, IReadOnlyDictionary<string, string> Findings)
{
    public int Crashes => Findings.Count;
}

/// <summary>
/// A deterministic mutation fuzzer for CI (no AFL or libFuzzer instrumentation needed): seeded mutations of the
/// seed images (<see cref="Mutator"/>), each run through <see cref="FuzzTarget"/>; an input whose outcome signature
/// is new joins the corpus (a cheap stand-in for coverage). A finding is saved as <c>finding-SHA.qcow2</c> with a
/// <c>.txt</c> beside it; a hang is saved before the process exits (a hung execution cannot be stopped in-process).
/// </summary>
public static class MutationFuzzer
{
    private const int MaxCorpus = 4096;

    public static FuzzReport Run(IReadOnlyList<byte[]> seeds, FuzzSettings settings)
    {
        if (seeds.Count == 0)
        {
            throw new ArgumentException("no seed images", nameof(seeds));
        }

        var rng = new Random(settings.Seed);
        var mutator = new Mutator(rng);
        var corpus = new List<byte[]>(seeds);
        var outcomes = new HashSet<string>(StringComparer.Ordinal);
        var findings = new Dictionary<string, string>(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();
        using var watchdog = new HangWatchdog(settings);
        long executions = 0;
        var lastLog = clock.Elapsed;

        // Seeds run unmutated first: a sound image must never be a finding.
        var queue = new Queue<byte[]>(seeds);
        while ((settings.Duration == TimeSpan.Zero || clock.Elapsed < settings.Duration)
            && (settings.MaxExecutions == 0 || executions < settings.MaxExecutions))
        {
            var input = queue.Count > 0 ? queue.Dequeue() : mutator.Mutate(corpus[rng.Next(corpus.Count)], corpus);
            watchdog.Begin(input);
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                string outcome = FuzzTarget.Run(input);
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                if (allocated > settings.MaxAllocatedBytes)
                {
                    throw new FuzzFindingException($"one execution allocated {allocated >> 20} MiB", null);
                }

                if (outcomes.Add(outcome) && corpus.Count < MaxCorpus)
                {
                    corpus.Add(input);
                }
            }
            catch (FuzzFindingException finding)
            {
                if (!findings.ContainsKey(finding.Key))
                {
                    findings[finding.Key] = Save(settings.FindingsDirectory, input, finding.ToString()) ?? finding.ToString();
                    settings.Log?.Invoke($"FINDING {finding.Key}: {finding.Message}");
                }
            }
            catch (OutOfMemoryException e)
            {
                string key = "OutOfMemoryException";
                findings.TryAdd(key, Save(settings.FindingsDirectory, input, e.ToString()) ?? e.ToString());
            }
            finally
            {
                watchdog.End();
            }

            executions++;
            if (clock.Elapsed - lastLog > TimeSpan.FromSeconds(10))
            {
                lastLog = clock.Elapsed;
                settings.Log?.Invoke($"{clock.Elapsed.TotalSeconds:F0} s: {executions} executions, corpus {corpus.Count}, outcomes {outcomes.Count}, findings {findings.Count}");
            }
        }

        return new FuzzReport(executions, clock.Elapsed, corpus.Count, outcomes, findings);
    }

    /// <summary>Writes a finding as finding-SHA256PREFIX.qcow2 (+ .txt); returns the path.</summary>
    public static string? Save(string? directory, byte[] input, string description, string prefix = "finding")
    {
        if (directory is null)
        {
            return null;
        }

        Directory.CreateDirectory(directory);
        string name = $"{prefix}-{Convert.ToHexString(SHA256.HashData(input))[..16].ToLowerInvariant()}";
        string path = Path.Combine(directory, name + ".qcow2");
        File.WriteAllBytes(path, input);
        File.WriteAllText(Path.Combine(directory, name + ".txt"), description + Environment.NewLine);
        return path;
    }

    /// <summary>Watches the current execution from another thread; on a hang it saves the input and ends the process.</summary>
    private sealed class HangWatchdog : IDisposable
    {
        private readonly FuzzSettings _settings;
        private readonly Thread _thread;
        private readonly CancellationTokenSource _stop = new();
        private byte[]? _input;
        private long _startedAt;

        public HangWatchdog(FuzzSettings settings)
        {
            _settings = settings;
            _thread = new Thread(Watch) { IsBackground = true, Name = "fuzz hang watchdog" };
            _thread.Start();
        }

        public void Begin(byte[] input)
        {
            Volatile.Write(ref _input, input);
            Volatile.Write(ref _startedAt, Stopwatch.GetTimestamp());
        }

        public void End() => Volatile.Write(ref _input, null);

        public void Dispose()
        {
            _stop.Cancel();
            _thread.Join();
            _stop.Dispose();
        }

        private void Watch()
        {
            while (!_stop.Token.WaitHandle.WaitOne(250))
            {
                var input = Volatile.Read(ref _input);
                if (input is not null && Stopwatch.GetElapsedTime(Volatile.Read(ref _startedAt)) > _settings.HangTimeout)
                {
                    string? path = Save(_settings.FindingsDirectory, input, $"hang: one execution ran longer than {_settings.HangTimeout.TotalSeconds} s", "hang");
                    Console.Error.WriteLine($"HANG: an execution ran longer than {_settings.HangTimeout.TotalSeconds} s; input saved to {path ?? "(not saved)"}");
                    _settings.OnHang(path);
                    return;
                }
            }
        }
    }
}
