using System.Diagnostics;

namespace Qcow2Mount.Cli.Tests.Build;

/// <summary>Runs one of the repository's scripts as a child process and keeps what it printed.</summary>
internal sealed record ScriptRun(int ExitCode, IReadOnlyList<string> Stdout, IReadOnlyList<string> Stderr)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    /// <summary>The last non-empty line on stdout: where build.ps1 and .ci/run put <c>N passed, M failed</c>.</summary>
    public string LastLine => Stdout.LastOrDefault(l => l.Length > 0) ?? "";

    public string AllOutput => string.Join('\n', Stdout.Concat(Stderr));

    /// <summary>The repository root: the nearest folder above the test assembly that holds Qcow2Mount.sln.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary><c>dotnet pwsh -NoProfile -File build.ps1 ARGS</c> in the repository root.</summary>
    public static ScriptRun BuildScript(params string[] args) =>
        Start("dotnet", ["pwsh", "-NoProfile", "-File", Path.Combine(RepositoryRoot, "build.ps1"), .. args], RepositoryRoot);

    public static ScriptRun Start(string file, IEnumerable<string> args, string workingDirectory, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            info.ArgumentList.Add(a);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        var stdout = new List<string>();
        var stderr = new List<string>();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Add(stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Add(stderr, e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', args)} did not finish within {Timeout}");
        }

        process.WaitForExit(); // drains the output events
        return new ScriptRun(process.ExitCode, stdout, stderr);
    }

    private static void Add(List<string> lines, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (lines)
        {
            lines.Add(line);
        }
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Qcow2Mount.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Qcow2Mount.sln above {TestContext.CurrentContext.TestDirectory}");
    }
}
