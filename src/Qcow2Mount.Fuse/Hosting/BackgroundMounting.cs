using System.Collections.Concurrent;
using System.Diagnostics;
using Qcow2Mount.Core.Hosting;
using Qcow2Mount.Fuse.Interop;

namespace Qcow2Mount.Fuse.Hosting;

/// <summary>
/// Background mounting without fork (the .NET runtime does not survive it): the command re-runs itself with the
/// server's arguments. The child (<see cref="Detach"/>) starts a new session, closes what it inherited, opens
/// /dev/null and the log file, mounts, and when the kernel's INIT is answered writes <see cref="ReadyLine"/> to its
/// stdout (a pipe to the parent), then points stdin/stdout/stderr at /dev/null (or the log file) and serves. The
/// parent forwards the child's stderr until then and exits 0 on the ready line (forwarding the lines before it, which
/// name the raw files), or with the child's exit code (and its one-line error already forwarded) when the pipe closes
/// without it.
/// </summary>
internal sealed class BackgroundMounting : IBackgroundMounting
{
    public const string ReadyLine = "qcow2mount-ready";

    /// <summary>Longest wait for the child to mount (opening a big image with a cold cache can take a while).</summary>
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromMinutes(2);

    /// <summary>Runs in the parent: starts the server and waits until it serves or fails.</summary>
    public int Start(IReadOnlyList<string> arguments)
    {
        InheritedDescriptors.MarkCloseOnExec();
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // Under "dotnet qcow2mount.dll" the process is the host: name the assembly. A NativeAOT or apphost binary is itself.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, AppDomain.CurrentDomain.FriendlyName + ".dll"));
        }

        foreach (string arg in arguments)
        {
            start.ArgumentList.Add(arg);
        }

        // stdout lines in order; null marks the end of the pipe (the child exited or detached without the ready line).
        // Neither is disposed: the output handlers may still run after we return (the child closes its pipes when it
        // detaches), and this process exits right after.
        var lines = new BlockingCollection<string?>();
        var child = Process.Start(start) ?? throw new MountFailedException("cannot start the background server");
        child.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Console.Error.WriteLine(e.Data);
            }
        };
        child.OutputDataReceived += (_, e) => lines.Add(e.Data);
        child.BeginErrorReadLine();
        child.BeginOutputReadLine();
        child.StandardInput.Close();

        var deadline = DateTime.UtcNow + ReadyTimeout;
        while (true)
        {
            if (!lines.TryTake(out string? line, Max(deadline - DateTime.UtcNow, TimeSpan.Zero)))
            {
                child.Kill();
                throw new MountFailedException($"the background server did not mount within {ReadyTimeout.TotalSeconds} s");
            }

            if (line is null)
            {
                break;
            }

            if (line == ReadyLine)
            {
                return 0;
            }

            Console.WriteLine(line);
        }

        child.WaitForExit();
        return child.ExitCode == 0 ? 2 : child.ExitCode;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>
    /// Runs first in the child: leave the parent's session so its terminal and signals no longer reach us, close the
    /// descriptors inherited from whoever started the parent, and open where the output goes once it serves.
    /// </summary>
    public IBackgroundServer Detach(string? logFile)
    {
        _ = Libc.SetSid();
        InheritedDescriptors.Close();
        return DetachedOutput.Open(logFile);
    }
}
