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
        var result = ProcessRunner.Capture(file, args.ToList(), environment?.ToDictionary(p => p.Key, p => (string?)p.Value), Timeout, workingDirectory);
        return new ScriptRun(result.ExitCode, Lines(result.StandardOutput), Lines(result.StandardError));
    }

    private static string[] Lines(string output) =>
        output.Length == 0 ? [] : output.TrimEnd('\n').Split('\n');

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
