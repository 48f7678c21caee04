using System.Diagnostics;
using System.Text;

namespace Qcow2Mount.TestSupport;

/// <summary>Runs a program with an argument list (never through a shell) and captures its output.</summary>
public static class ProcessRunner
{
    /// <summary>Long enough for any tool run on the small images the tests use; a hang fails the test instead of the run.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    /// <summary>Runs <paramref name="program"/>; throws unless the exit code is one of <paramref name="expectedExitCodes"/> (default: 0).</summary>
    public static ProcessResult Run(string program, IReadOnlyList<string> arguments, params int[] expectedExitCodes)
    {
        var result = Capture(program, arguments);
        int[] expected = expectedExitCodes.Length == 0 ? [0] : expectedExitCodes;
        if (!expected.Contains(result.ExitCode))
        {
            throw new ExternalCommandException($"unexpected exit code {result.ExitCode} (expected {string.Join(" or ", expected)}) from {result}");
        }

        return result;
    }

    /// <summary>Runs <paramref name="program"/> and returns whatever it exited with (for tests that assert on failures).</summary>
    public static ProcessResult Capture(string program, IReadOnlyList<string> arguments) => Capture(program, arguments, null, Timeout);

    /// <inheritdoc cref="Capture(string, IReadOnlyList{string})"/>
    public static ProcessResult Capture(string program, params string[] arguments) => Capture(program, arguments, null, Timeout);

    /// <summary>Runs <paramref name="program"/>, throws unless it exits 0, and returns what it printed on stdout.</summary>
    public static string Output(string program, params string[] arguments) => Run(program, arguments).StandardOutput;

    /// <summary>
    /// Runs <paramref name="program"/> with <paramref name="environment"/> added to (or, for a null value, removed from)
    /// this process's environment, in <paramref name="workingDirectory"/> (default: this process's); kills it and everything
    /// it started after <paramref name="timeout"/>.
    /// </summary>
    public static ProcessResult Capture(string program, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string?>? environment, TimeSpan timeout, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory ?? string.Empty,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        AddArgumentsAndEnvironment(start, arguments, environment);

        string commandLine = FormatCommandLine(program, arguments);
        using var process = new Process { StartInfo = start };
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => Append(stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Append(stderr, e.Data);
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ExternalCommandException($"cannot start {commandLine}: {e.Message}", e);
        }

        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new ExternalCommandException($"{commandLine} did not finish within {timeout.TotalSeconds} s");
        }

        process.WaitForExit(); // drains the asynchronous output readers
        ProcessResult result;
        lock (stdout)
        {
            lock (stderr)
            {
                result = new ProcessResult(commandLine, process.ExitCode, stdout.ToString(), stderr.ToString());
            }
        }

        return result;
    }

    /// <summary>
    /// Adds <paramref name="arguments"/> to <paramref name="start"/> (an argument list: no shell parses them) and
    /// <paramref name="environment"/> to its environment (a null value removes the variable).
    /// </summary>
    internal static void AddArgumentsAndEnvironment(ProcessStartInfo start, IEnumerable<string> arguments, IReadOnlyDictionary<string, string?>? environment)
    {
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }
    }

    /// <summary>The command line as a POSIX shell would need it, for messages only.</summary>
    public static string FormatCommandLine(string program, IEnumerable<string> arguments) =>
        string.Join(' ', arguments.Prepend(program).Select(Quote));

    private static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=,:+@%".Contains(c))
            ? argument
            : "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static void Append(StringBuilder sink, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (sink)
        {
            sink.AppendLine(line);
        }
    }
}
