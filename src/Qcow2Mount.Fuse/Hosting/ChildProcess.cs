using System.Runtime.InteropServices;
using System.Text;
using Qcow2Mount.Core.Hosting;
using Qcow2Mount.Fuse.Interop;

namespace Qcow2Mount.Fuse.Hosting;

/// <summary>
/// A child started with posix_spawn(3): stdin from /dev/null, stdout and stderr into pipes whose read ends this side
/// holds (<see cref="Output"/>, <see cref="Error"/>, closed on dispose), the environment as this process sees it.
/// System.Diagnostics.Process did the same in 0.4 ms more of the background mount's start (perf): its first use sets
/// up the runtime's child handling and terminal state and wraps the pipes in streams.
/// </summary>
internal sealed unsafe class ChildProcess : IDisposable
{
    private ChildProcess(int pid, int output, int error)
    {
        Pid = pid;
        Output = output;
        Error = error;
    }

    public int Pid { get; }

    /// <summary>Read end of the child's stdout.</summary>
    public int Output { get; private set; }

    /// <summary>Read end of the child's stderr.</summary>
    public int Error { get; private set; }

    /// <summary>Starts <paramref name="argv"/>[0] (a path) with <paramref name="argv"/>.</summary>
    public static ChildProcess Start(IReadOnlyList<string> argv)
    {
        var (outRead, outWrite) = Pipe();
        int errRead, errWrite;
        try
        {
            (errRead, errWrite) = Pipe();
        }
        catch
        {
            _ = Libc.Close(outRead);
            _ = Libc.Close(outWrite);
            throw;
        }

        void* actions = NativeMemory.AllocZeroed(Libc.PosixSpawnFileActionsSize);
        var strings = new List<nint>();
        try
        {
            _ = Libc.PosixSpawnFileActionsInit(actions);
            byte* devNull = Utf8(strings, "/dev/null");
            _ = Libc.PosixSpawnFileActionsAddOpen(actions, 0, devNull, LinuxConstants.O_RDONLY, 0);
            _ = Libc.PosixSpawnFileActionsAddDup2(actions, outWrite, 1);
            _ = Libc.PosixSpawnFileActionsAddDup2(actions, errWrite, 2);

            var environment = Environment.GetEnvironmentVariables();
            byte** args = Array(strings, argv);
            byte** envp = Array(strings, environment.Keys.Cast<string>().Select(k => $"{k}={environment[k]}").ToList());
            int error = Libc.PosixSpawn(out int pid, args[0], actions, null, args, envp);
            if (error != 0)
            {
                throw new MountFailedException($"cannot start the background server {argv[0]}: {Marshal.GetPInvokeErrorMessage(error)}");
            }

            var child = new ChildProcess(pid, outRead, errRead);
            outRead = errRead = -1; // the child owns them now
            return child;
        }
        finally
        {
            _ = Libc.PosixSpawnFileActionsDestroy(actions);
            NativeMemory.Free(actions);
            foreach (nint s in strings)
            {
                NativeMemory.Free((void*)s);
            }

            foreach (int fd in new[] { outWrite, errWrite, outRead, errRead })
            {
                if (fd >= 0)
                {
                    _ = Libc.Close(fd);
                }
            }
        }
    }

    /// <summary>Waits for the child to end: its exit code, or 128 + the signal that ended it (as a shell reports it).</summary>
    public int WaitForExit()
    {
        int status;
        while (Libc.WaitPid(Pid, out status, 0) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Errno.EINTR)
            {
                throw new MountFailedException($"waiting for the background server failed: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }

        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f);
    }

    public void Kill() => _ = Libc.Kill(Pid, Libc.SIGKILL);

    public void Dispose()
    {
        foreach (int fd in new[] { Output, Error })
        {
            if (fd >= 0)
            {
                _ = Libc.Close(fd);
            }
        }

        Output = Error = -1;
    }

    /// <summary>A close-on-exec pipe whose ends are above stderr (so no dup2 in the child is a no-op that keeps close-on-exec).</summary>
    private static (int Read, int Write) Pipe()
    {
        int* fds = stackalloc int[2];
        if (Libc.Pipe2(fds, Libc.O_CLOEXEC) != 0)
        {
            throw new MountFailedException($"cannot make a pipe to the background server: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        for (int i = 0; i < 2; i++)
        {
            if (fds[i] <= 2)
            {
                int moved = Libc.Fcntl(fds[i], Libc.F_DUPFD_CLOEXEC, 3);
                int errno = Marshal.GetLastPInvokeError();
                _ = Libc.Close(fds[i]);
                fds[i] = moved;
                if (moved < 0)
                {
                    _ = Libc.Close(fds[1 - i]);
                    throw new MountFailedException($"cannot make a pipe to the background server: {Marshal.GetPInvokeErrorMessage(errno)}");
                }
            }
        }

        return (fds[0], fds[1]);
    }

    private static byte* Utf8(List<nint> owned, string s)
    {
        int n = Encoding.UTF8.GetByteCount(s);
        byte* p = (byte*)NativeMemory.Alloc((nuint)n + 1);
        owned.Add((nint)p);
        Encoding.UTF8.GetBytes(s, new Span<byte>(p, n));
        p[n] = 0;
        return p;
    }

    /// <summary>A NULL-terminated array of C strings.</summary>
    private static byte** Array(List<nint> owned, IReadOnlyList<string> items)
    {
        byte** array = (byte**)NativeMemory.Alloc((nuint)(items.Count + 1), (nuint)sizeof(nint));
        owned.Add((nint)array);
        for (int i = 0; i < items.Count; i++)
        {
            array[i] = Utf8(owned, items[i]);
        }

        array[items.Count] = null;
        return array;
    }
}
