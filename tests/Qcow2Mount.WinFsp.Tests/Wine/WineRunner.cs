using System.Diagnostics;
using System.Text;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.WinFsp.Tests.Wine;

/// <summary>
/// Runs Windows programs under Wine for this test project (a private helper; the shared one in TestSupport is owned
/// by packaging). One prefix per test run under the scratch folder; Wine kept quiet and unable to hang CI:
/// WINEDEBUG=-all, winemenubuilder and winedbg disabled (a crash ends the process instead of waiting in the
/// debugger), a timeout on every process, and <c>wineserver -k</c> on dispose.
/// </summary>
internal sealed class WineRunner : IDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    private static readonly TimeSpan OutputDrainTime = TimeSpan.FromMilliseconds(500);

    public WineRunner(string prefix)
    {
        Prefix = prefix;
        Directory.CreateDirectory(prefix);
        // A persistent wineserver for the whole run (it would otherwise exit 3 s after each program and every start
        // would pay for a new one); Dispose kills it. A new prefix takes 10-20 s (winfsp-notes §12).
        Run("wineserver", ["-p"], TimeSpan.FromSeconds(30)).ThrowUnlessExit(0);
        Run("wineboot", ["--init"], TimeSpan.FromMinutes(3)).ThrowUnlessExit(0);
    }

    public string Prefix { get; }

    /// <summary>Fails, naming the package, when wine or the mingw C compiler is missing (build.ps1 deps installs them).</summary>
    public static void EnsureTools() => RequiredTools.Require("wine", "wineserver", "x86_64-w64-mingw32-gcc");

    /// <summary>The Windows name of a Linux path through Wine's Z: drive (the whole host file system).</summary>
    public static string WindowsPath(string linuxPath) => "Z:" + Path.GetFullPath(linuxPath).Replace('/', '\\');

    /// <summary>Runs <paramref name="program"/> (a Windows exe or a Wine tool) in the prefix with extra environment variables.</summary>
    public Result Run(string program, IReadOnlyList<string> arguments, TimeSpan? timeout = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var env = new Dictionary<string, string>
        {
            ["WINEPREFIX"] = Prefix,
            ["WINEDEBUG"] = "-all",
            ["WINEDLLOVERRIDES"] = "winemenubuilder.exe=d;winedbg.exe=d",
        };
        foreach (var pair in environment ?? new Dictionary<string, string>())
        {
            env[pair.Key] = pair.Value;
        }

        bool isWineTool = program is "wineboot" or "wineserver" or "wine";
        return isWineTool
            ? Exec(program, arguments, env, timeout ?? DefaultTimeout)
            : Exec("wine", [program, .. arguments], env, timeout ?? DefaultTimeout);
    }

    /// <summary>Ends every program of the prefix and starts a new wineserver: it reads the prefix's drive links (dosdevices) again.</summary>
    public void RestartServer()
    {
        Run("wineserver", ["-k"], TimeSpan.FromSeconds(30));
        Run("wineserver", ["-p"], TimeSpan.FromSeconds(30)).ThrowUnlessExit(0);
    }

    /// <summary>
    /// Starts a Windows program in the background with its standard output readable (standard error goes nowhere);
    /// the caller ends it (Kill) when done.
    /// </summary>
    public Process Start(string program, IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo("wine") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardInput = true };
        start.ArgumentList.Add(program);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["WINEPREFIX"] = Prefix;
        start.Environment["WINEDEBUG"] = "-all";
        start.Environment["WINEDLLOVERRIDES"] = "winemenubuilder.exe=d;winedbg.exe=d";
        return Process.Start(start) ?? throw new InvalidOperationException("wine did not start");
    }

    /// <summary><c>wine reg ARGS</c> (e.g. add/delete with /reg:32), throwing on failure unless <paramref name="allowFailure"/>.</summary>
    public Result Reg(bool allowFailure, params string[] arguments)
    {
        var result = Run("wine", ["reg", .. arguments]);
        return allowFailure ? result : result.ThrowUnlessExit(0);
    }

    public void Dispose() => Run("wineserver", ["-k"], TimeSpan.FromSeconds(30));

    /// <summary>Starts a process with an argument list (no shell) and waits at most <paramref name="timeout"/>, killing it after.</summary>
    public static Result Exec(string program, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string>? environment, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var pair in environment ?? new Dictionary<string, string>())
        {
            start.Environment[pair.Key] = pair.Value;
        }

        string commandLine = ProcessRunner.FormatCommandLine(program, arguments);
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        using var stdoutDone = new ManualResetEventSlim();
        using var stderrDone = new ManualResetEventSlim();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(stdout, e.Data, stdoutDone);
        process.ErrorDataReceived += (_, e) => Append(stderr, e.Data, stderrDone);
        var clock = Stopwatch.StartNew();
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        bool finished = process.WaitForExit(timeout);
        if (!finished)
        {
            process.Kill(entireProcessTree: true);
        }

        // Wine leaves daemons (wineserver, services.exe) that inherit the output pipes, so their end never comes while
        // the prefix is alive: wait a little for the rest of the output, not for the pipes to close.
        stdoutDone.Wait(OutputDrainTime);
        stderrDone.Wait(OutputDrainTime);
        lock (stdout)
        {
            lock (stderr)
            {
                return new Result(commandLine, finished ? process.ExitCode : -1, !finished, stdout.ToString(), stderr.ToString(), clock.Elapsed);
            }
        }
    }

    private static void Append(StringBuilder sink, string? line, ManualResetEventSlim done)
    {
        if (line is null)
        {
            done.Set();
            return;
        }

        lock (sink)
        {
            sink.AppendLine(line);
        }
    }

    /// <summary>What a process did; <see cref="TimedOut"/> processes were killed (exit code -1).</summary>
    public sealed record Result(string CommandLine, int ExitCode, bool TimedOut, string StandardOutput, string StandardError, TimeSpan Elapsed)
    {
        public Result ThrowUnlessExit(int code) => ExitCode == code && !TimedOut
            ? this
            : throw new ExternalCommandException($"{CommandLine}: exit {ExitCode}{(TimedOut ? " (timed out, killed)" : string.Empty)}\nstdout: {StandardOutput}\nstderr: {StandardError}");

        public override string ToString() => $"{CommandLine} (exit {ExitCode}, {Elapsed.TotalSeconds:F1} s)\nstdout: {StandardOutput.TrimEnd()}\nstderr: {StandardError.TrimEnd()}";
    }
}
