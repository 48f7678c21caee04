using System.Runtime.InteropServices;
using System.Text;
using Qcow2Mount.Core.Hosting;
using Qcow2Mount.Fuse.Interop;

namespace Qcow2Mount.Fuse.Hosting;

/// <summary>
/// Background mounting without fork (the .NET runtime does not survive it): the command re-runs itself with the
/// server's arguments. The child (<see cref="Detach"/>) starts a new session, closes what it inherited, opens
/// /dev/null and the log file, mounts, and when the kernel's INIT is answered writes <see cref="ReadyLine"/> to its
/// stdout (a pipe to the parent), then points stdin/stdout/stderr at /dev/null (or the log file) and serves. The
/// parent forwards the child's stderr until then and exits 0 on the ready line (forwarding the lines before it, which
/// name the raw files), or with the child's exit code (and its one-line error already forwarded) when the pipes close
/// without it.
/// </summary>
internal sealed class BackgroundMounting : IBackgroundMounting
{
    public const string ReadyLine = "qcow2mount-ready";

    /// <summary>Longest wait for the child to mount (opening a big image with a cold cache can take a while).</summary>
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Runs in the parent: starts the server and waits until it serves or fails. This thread polls both pipes itself
    /// (asynchronous readers cost two thread-pool threads, whose start the main thread waited for in a sched_yield
    /// loop). The child's stderr must stay a pipe to us: its Console keeps a duplicate of the descriptor, which would
    /// hold a caller's stderr pipe open for as long as the mount lives.
    /// </summary>
    public int Start(IReadOnlyList<string> arguments)
    {
        // Under "dotnet qcow2mount.dll" the process is the host: name the assembly. A NativeAOT or apphost binary is
        // itself. Descriptors this process inherited reach the child, which closes them first (Detach).
        var argv = new List<string> { Environment.ProcessPath! };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            argv.Add(Path.Combine(AppContext.BaseDirectory, AppDomain.CurrentDomain.FriendlyName + ".dll"));
        }

        argv.AddRange(arguments);
        using var child = ChildProcess.Start(argv);
        var output = new LinePipe(child.Output);
        var error = new LinePipe(child.Error);
        var deadline = DateTime.UtcNow + ReadyTimeout;
        while (!output.Ended || !error.Ended)
        {
            if (!LinePipe.WaitReadable(output, error, deadline))
            {
                child.Kill();
                throw new MountFailedException($"the background server did not mount within {ReadyTimeout.TotalSeconds} s");
            }

            foreach (string line in error.ReadLines())
            {
                Forward(2, line);
            }

            foreach (string line in output.ReadLines())
            {
                if (line == ReadyLine)
                {
                    return 0;
                }

                Forward(1, line);
            }
        }

        int code = child.WaitForExit();
        return code == 0 ? 2 : code;
    }

    /// <summary>
    /// Writes <paramref name="line"/> and a newline to descriptor <paramref name="fd"/> with write(2): the first use of
    /// Console sets up the runtime's terminal and signal handling (a thread of its own) in a process that is about to
    /// exit. A reader that went away (EPIPE) drops the line, as Console does, and so does any other failure: what the
    /// caller relies on is the exit code.
    /// </summary>
    private static unsafe void Forward(int fd, string line)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(line + "\n");
        fixed (byte* start = bytes)
        {
            for (int done = 0; done < bytes.Length;)
            {
                nint written = Libc.Write(fd, start + done, (nuint)(bytes.Length - done));
                if (written < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR)
                {
                    continue;
                }

                if (written <= 0)
                {
                    return;
                }

                done += (int)written;
            }
        }
    }

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
