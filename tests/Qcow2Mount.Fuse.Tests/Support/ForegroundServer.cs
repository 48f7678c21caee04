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

    /// <summary>Starts the server and returns once it printed the mounted file (it serves from then on).</summary>
    public static ForegroundServer Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in (string[])[Cli.DllPath, "-f", .. args])
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

    public void Signal(string name) => Tool.Check("kill", "-s", name, Pid.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public ProcessResult WaitForExit(TimeSpan timeout)
    {
        Assert.That(_process.WaitForExit(timeout), Is.True, "the server did not exit");
        return new ProcessResult(_process.ExitCode, "", _stderr.Result);
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
