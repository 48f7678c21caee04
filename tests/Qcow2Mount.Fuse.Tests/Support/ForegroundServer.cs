using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Fuse.Tests.Support;

/// <summary><c>qcow2mount -f IMAGE MOUNTDIR</c> as a child of the test, so its exit code can be observed.</summary>
internal sealed class ForegroundServer : IDisposable
{
    private readonly BackgroundProcess _process;

    private ForegroundServer(BackgroundProcess process)
    {
        _process = process;
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
        var server = new ForegroundServer(BackgroundProcess.Start("env", ["--default-signal=INT", program, .. args]));
        try
        {
            server._process.WaitUntil(() => server._process.StandardOutput.Contains('\n', StringComparison.Ordinal), "the line naming its mounted file");
        }
        catch
        {
            server.Dispose();
            throw;
        }

        return server;
    }

    public void Signal(string name) => _process.Signal(name);

    public ProcessResult WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    public void Dispose() => _process.Dispose();
}
