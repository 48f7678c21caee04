using System.Diagnostics;

namespace Qcow2Mount.Fuse.Tests.Support;

/// <summary><c>qcow2mount -f IMAGE MOUNTDIR</c> as a child of the test, so its exit code can be observed.</summary>
internal sealed class ForegroundServer : IDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stderr;

    private ForegroundServer(Process process)
    {
        _process = process;
        _stderr = process.StandardError.ReadToEndAsync();
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Starts the server and returns once it printed the mounted file (it serves from then on).</summary>
    public static ForegroundServer Start(params string[] args) => StartCommand("dotnet", [Cli.DllPath, "-f", .. args]);

    /// <summary>Like <see cref="Start"/>, with <paramref name="file"/> open (for reading) as an inherited descriptor 7.</summary>
    public static ForegroundServer StartHolding(string file, params string[] args) =>
        StartCommand("sh", ["-c", "exec 7<\"$0\"; exec dotnet \"$@\"", file, Cli.DllPath, "-f", .. args]);

    /// <remarks>
    /// The server runs under <c>env --default-signal=INT</c>: a test run started in the background of a
    /// non-interactive shell inherits SIGINT as ignored (POSIX), the runtime then keeps ignoring it, and the INT
    /// cases would test the caller's shell rather than the server.
    /// </remarks>
    private static ForegroundServer StartCommand(string program, string[] args)
    {
        var start = new ProcessStartInfo("env")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("--default-signal=INT");
        start.ArgumentList.Add(program);
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        var server = new ForegroundServer(Process.Start(start)!);
        var line = server._process.StandardOutput.ReadLineAsync();
        Assert.That(line.Wait(TimeSpan.FromSeconds(60)), Is.True, "the foreground server did not report its mount");
        if (line.Result is null)
        {
            Assert.Fail("the foreground server failed: " + server.WaitForExit(TimeSpan.FromSeconds(10)).StandardError);
        }

        return server;
    }

    public void Signal(string name) => ProcessRunner.Output("kill", "-s", name, Pid.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public ProcessResult WaitForExit(TimeSpan timeout)
    {
        Assert.That(_process.WaitForExit(timeout), Is.True, "the server did not exit");
        return new ProcessResult("qcow2mount -f (foreground server)", _process.ExitCode, "", _stderr.Result);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
    }
}
