using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Qcow2Mount.TestSupport;

/// <summary>
/// A program a test runs beside itself and talks to while it runs (a foreground mount server, qemu-storage-daemon, a
/// qemu-io that holds a lock, a Windows program under Wine); <see cref="ProcessRunner"/> is for programs run to their
/// end. Started with an argument list (never through a shell of the caller's making), its output captured as it comes,
/// readiness waited for with a timeout whose failure carries what the program printed, and on <see cref="Dispose"/>
/// killed with everything it started and reaped, whatever the test did before.
/// </summary>
public sealed class BackgroundProcess : IDisposable
{
    /// <summary>How long a readiness wait or an exit wait lasts unless the caller says otherwise.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// After the program exits, how long to wait for the end of its output. A child it left behind (Wine's services,
    /// a daemon) may hold the pipes open for good: then the output read so far is the output.
    /// </summary>
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly string? _outputFiles;
    private readonly CountdownEvent _pipesClosed;
    private readonly SemaphoreSlim _activity = new(0);
    private bool _disposed;

    private BackgroundProcess(Process process, string commandLine, string? outputFiles)
    {
        _process = process;
        CommandLine = commandLine;
        _outputFiles = outputFiles;
        _pipesClosed = new CountdownEvent(outputFiles is null ? 2 : 0);
    }

    /// <summary>The command line, for messages.</summary>
    public string CommandLine { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>What the program printed on stdout so far.</summary>
    public string StandardOutput => _outputFiles is null ? Read(_stdout) : ReadFile(_outputFiles + ".out");

    /// <summary>What the program printed on stderr so far.</summary>
    public string StandardError => _outputFiles is null ? Read(_stderr) : ReadFile(_outputFiles + ".err");

    /// <summary>
    /// Starts <paramref name="program"/>. Its stdin is a pipe the test may write to (<see cref="WriteLine"/>) and
    /// close (<see cref="CloseInput"/>); it stays open until then.
    /// </summary>
    /// <param name="environment">Added to (or, for a null value, removed from) this process's environment.</param>
    /// <param name="workingDirectory">Default: this process's.</param>
    /// <param name="outputFiles">
    /// Send stdout and stderr to <c>FILES.out</c> and <c>FILES.err</c> instead of pipes (read back as they grow): for
    /// programs whose children keep pipes open after they end (Windows programs under Wine). The program is exec'ed
    /// by <c>sh</c>, so <see cref="Id"/> is still the program's own pid.
    /// </param>
    public static BackgroundProcess Start(
        string program,
        IReadOnlyList<string> arguments,
        IReadOnlyDictionary<string, string?>? environment = null,
        string? workingDirectory = null,
        string? outputFiles = null)
    {
        string commandLine = ProcessRunner.FormatCommandLine(program, arguments);
        var start = new ProcessStartInfo(outputFiles is null ? program : "sh")
        {
            WorkingDirectory = workingDirectory ?? string.Empty,
            RedirectStandardInput = true,
            RedirectStandardOutput = outputFiles is null,
            RedirectStandardError = outputFiles is null,
            UseShellExecute = false,
        };
        if (outputFiles is null)
        {
            start.StandardOutputEncoding = Encoding.UTF8;
            start.StandardErrorEncoding = Encoding.UTF8;
        }

        IEnumerable<string> argv = outputFiles is null
            ? arguments
            : ["-c", "exec \"$@\" >\"$0.out\" 2>\"$0.err\"", outputFiles, program, .. arguments];
        ProcessRunner.AddArgumentsAndEnvironment(start, argv, environment);

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var background = new BackgroundProcess(process, commandLine, outputFiles);
        process.OutputDataReceived += (_, e) => background.Received(background._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => background.Received(background._stderr, e.Data);
        process.Exited += (_, _) => background.Wake();
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            background.Dispose();
            throw new ExternalCommandException($"cannot start {commandLine}: {e.Message}", e);
        }

        if (outputFiles is null)
        {
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        return background;
    }

    /// <summary>Writes one line to the program's stdin.</summary>
    public void WriteLine(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    /// <summary>Closes the program's stdin (end of input); a program that has ended already is fine.</summary>
    public void CloseInput()
    {
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // It went away on its own.
        }
    }

    /// <summary>
    /// Waits until <paramref name="ready"/> holds. Throws, with the program's output, when the program exits first or
    /// <paramref name="timeout"/> (default <see cref="DefaultTimeout"/>) passes; <paramref name="what"/> says what was
    /// awaited ("its mount", "the NBD socket").
    /// </summary>
    public void WaitUntil(Func<bool> ready, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? DefaultTimeout;
        var clock = Stopwatch.StartNew();
        while (!ready())
        {
            if (_process.HasExited)
            {
                if (ready())
                {
                    return;
                }

                Drain();
                throw new ExternalCommandException($"{CommandLine} exited with {_process.ExitCode} before {what}\n{Output()}");
            }

            if (clock.Elapsed > limit)
            {
                throw new ExternalCommandException($"{CommandLine}: no {what} within {limit.TotalSeconds:0.#} s\n{Output()}");
            }

            _activity.Wait(TimeSpan.FromMilliseconds(50));
        }
    }

    /// <summary>Waits until stdout contains <paramref name="text"/> (see <see cref="WaitUntil"/>).</summary>
    public void WaitForOutput(string text, TimeSpan? timeout = null) =>
        WaitUntil(() => StandardOutput.Contains(text, StringComparison.Ordinal), $"'{text}' on stdout", timeout);

    /// <summary>Sends signal <paramref name="name"/> (INT, TERM, HUP, …) with <c>kill -s</c>.</summary>
    public void Signal(string name) =>
        ProcessRunner.Run("kill", ["-s", name, Id.ToString(CultureInfo.InvariantCulture)]);

    /// <summary>The finished program's exit code and output, or null when it is still running after <paramref name="timeout"/>.</summary>
    public ProcessResult? TryWaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            return null;
        }

        Drain();
        return new ProcessResult(CommandLine, _process.ExitCode, StandardOutput, StandardError);
    }

    /// <summary>The finished program's exit code and output; throws, with its output, when it still runs after <paramref name="timeout"/>.</summary>
    public ProcessResult WaitForExit(TimeSpan? timeout = null)
    {
        var limit = timeout ?? DefaultTimeout;
        return TryWaitForExit(limit)
            ?? throw new ExternalCommandException($"{CommandLine} did not exit within {limit.TotalSeconds:0.#} s\n{Output()}");
    }

    /// <summary>Kills the program and everything it started (SIGKILL) and waits for it.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Not started, or already reaped.
        }

        _process.WaitForExit(DefaultTimeout);
    }

    /// <summary>Kills the program if it is still running, reaps it and lets go of its pipes.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            if (!_process.HasExited)
            {
                Kill();
            }

            Drain();
        }
        catch (InvalidOperationException)
        {
            // Never started: nothing to reap.
        }

        _process.Dispose();
        _pipesClosed.Dispose();
        _activity.Dispose();
    }

    private string Output() => $"stdout: {StandardOutput.TrimEnd()}\nstderr: {StandardError.TrimEnd()}";

    private void Drain() => _pipesClosed.Wait(DrainTimeout);

    private void Received(StringBuilder sink, string? line)
    {
        if (line is null)
        {
            try
            {
                _pipesClosed.Signal();
            }
            catch (ObjectDisposedException)
            {
                // The pipe's end came after Dispose stopped waiting for it (a child held it).
            }
        }
        else
        {
            lock (sink)
            {
                sink.AppendLine(line);
            }
        }

        Wake();
    }

    private void Wake()
    {
        try
        {
            _activity.Release();
        }
        catch (ObjectDisposedException)
        {
            // An event after Dispose: nobody waits any more.
        }
    }

    private static string Read(StringBuilder sink)
    {
        lock (sink)
        {
            return sink.ToString();
        }
    }

    private static string ReadFile(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return reader.ReadToEnd();
        }
        catch (FileNotFoundException)
        {
            return string.Empty; // the shell has not made it yet
        }
        catch (DirectoryNotFoundException)
        {
            return string.Empty;
        }
    }
}
