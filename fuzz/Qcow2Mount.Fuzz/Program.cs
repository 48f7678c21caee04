using System.Globalization;
using Qcow2Mount.Fuzz;

// Modes:
//   run [--seconds N] [--executions N] [--seed N] [--seeds DIR] [--findings DIR]   deterministic mutation fuzzer
//   repro FILE...                                                                  run inputs once, print outcomes
//   afl                                                                            SharpFuzz target for afl-fuzz
//   libfuzzer                                                                      SharpFuzz target for libfuzzer-dotnet
string mode = args.Length > 0 ? args[0] : "run";
switch (mode)
{
    case "run":
        return RunMutationFuzzer(args[1..]);
    case "repro":
        return Repro(args[1..]);
    case "afl":
        SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
        {
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            RunOrCrash(memory.ToArray());
        });
        return 0;
    case "libfuzzer":
        SharpFuzz.Fuzzer.LibFuzzer.Run(span => RunOrCrash(span.ToArray()));
        return 0;
    default:
        Console.Error.WriteLine($"qcow2mount-fuzz: unknown mode '{mode}' (run, repro, afl, libfuzzer)");
        return 2;
}

static int RunMutationFuzzer(string[] args)
{
    string root = FindRepositoryRoot();
    var settings = new FuzzSettings
    {
        Duration = TimeSpan.FromSeconds(double.Parse(Option(args, "--seconds") ?? "120", CultureInfo.InvariantCulture)),
        MaxExecutions = long.Parse(Option(args, "--executions") ?? "0", CultureInfo.InvariantCulture),
        Seed = int.Parse(Option(args, "--seed") ?? "1", CultureInfo.InvariantCulture),
        FindingsDirectory = Option(args, "--findings") ?? Path.Combine(root, "fuzz", "findings"),
        Log = Console.WriteLine,
    };
    string seedDir = Option(args, "--seeds") ?? Path.Combine(root, "fuzz", "seeds");
    var seeds = Directory.EnumerateFiles(seedDir).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();
    Console.WriteLine($"fuzzing with {seeds.Count} seeds from {seedDir}, seed {settings.Seed}, {settings.Duration.TotalSeconds} s");
    var report = MutationFuzzer.Run(seeds, settings);
    Console.WriteLine($"executions: {report.Executions}");
    Console.WriteLine($"seconds: {report.Elapsed.TotalSeconds:F1}");
    Console.WriteLine($"executions/s: {report.Executions / Math.Max(report.Elapsed.TotalSeconds, 0.001):F0}");
    Console.WriteLine($"corpus: {report.CorpusSize} inputs, {report.Outcomes.Count} distinct outcomes");
    if (args.Contains("--outcomes"))
    {
        foreach (string o in report.Outcomes.Order(StringComparer.Ordinal))
        {
            Console.WriteLine($"  outcome: {o}");
        }
    }

    Console.WriteLine($"crashes: {report.Crashes}");
    foreach (var (key, where) in report.Findings)
    {
        Console.WriteLine($"  {key}");
        Console.WriteLine($"    {where.Split('\n')[0]}");
    }

    return report.Crashes == 0 ? 0 : 1;
}

static int Repro(string[] files)
{
    int findings = 0;
    foreach (string file in files)
    {
        try
        {
            Console.WriteLine($"{file}: {FuzzTarget.Run(File.ReadAllBytes(file))}");
        }
        catch (FuzzFindingException f)
        {
            findings++;
            Console.WriteLine($"{file}: FINDING {f.Key}");
            Console.WriteLine(f.InnerException?.ToString() ?? f.Message);
        }
    }

    return findings == 0 ? 0 : 1;
}

// AFL and libFuzzer see a crash only as an unhandled exception.
static void RunOrCrash(byte[] input)
{
    try
    {
        FuzzTarget.Run(input);
    }
    catch (FuzzFindingException f)
    {
        throw new InvalidOperationException(f.Message, f.InnerException);
    }
}

static string? Option(string[] args, string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

static string FindRepositoryRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (Directory.Exists(Path.Combine(dir.FullName, "fuzz", "seeds")))
        {
            return dir.FullName;
        }
    }

    return Directory.GetCurrentDirectory();
}
