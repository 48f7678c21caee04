using System.Runtime.InteropServices;
using System.Text;
using Qcow2Mount.Fuse.Interop;

namespace Qcow2Mount.Fuse.Hosting;

/// <summary>
/// The read end of a child's stdout or stderr, read in whole lines by a thread that waits with poll(2) (no thread-pool
/// readers): <see cref="WaitReadable"/> waits for either of two, <see cref="ReadLines"/> reads what arrived.
/// </summary>
internal sealed class LinePipe
{
    private readonly int _fd;
    private readonly List<byte> _pending = [];
    private readonly byte[] _buffer = new byte[4096];
    private bool _readable;

    /// <param name="fd">The read end; its owner closes it.</param>
    public LinePipe(int fd) => _fd = fd;

    /// <summary>The writer closed its end and every line has been returned.</summary>
    public bool Ended { get; private set; }

    /// <summary>
    /// Waits until <paramref name="a"/> or <paramref name="b"/> can be read (data or end of file; one that ended is not
    /// waited for); false when <paramref name="deadline"/> passes first.
    /// </summary>
    public static unsafe bool WaitReadable(LinePipe a, LinePipe b, DateTime deadline)
    {
        var polls = stackalloc PollFd[2];
        polls[0] = new PollFd { Fd = a.Ended ? -1 : a._fd, Events = Libc.POLLIN };
        polls[1] = new PollFd { Fd = b.Ended ? -1 : b._fd, Events = Libc.POLLIN };
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            int ready = Libc.Poll(polls, 2, left > TimeSpan.Zero ? (int)Math.Ceiling(left.TotalMilliseconds) : 0);
            if (ready > 0 || (ready < 0 && Marshal.GetLastPInvokeError() != Errno.EINTR))
            {
                // Readable, hung up, or poll failed: the read says which (a failed poll marks both, and the read fails).
                a._readable = ready < 0 || polls[0].Revents != 0;
                b._readable = ready < 0 || polls[1].Revents != 0;
                return true;
            }

            if (ready == 0 && left <= TimeSpan.Zero)
            {
                return false;
            }
        }
    }

    /// <summary>The complete lines that arrived (at the end also an unterminated last one); reads only after <see cref="WaitReadable"/> said it would not block.</summary>
    public List<string> ReadLines()
    {
        var lines = new List<string>();
        if (Ended || !_readable)
        {
            return lines;
        }

        _readable = false;
        int read = ReadSome();
        if (read == 0)
        {
            Ended = true;
            if (_pending.Count > 0)
            {
                lines.Add(Encoding.UTF8.GetString(_pending.ToArray()));
                _pending.Clear();
            }

            return lines;
        }

        _pending.AddRange(_buffer.AsSpan(0, read));
        int newline;
        while ((newline = _pending.IndexOf((byte)'\n')) >= 0)
        {
            lines.Add(Encoding.UTF8.GetString(_pending.GetRange(0, newline).ToArray()).TrimEnd('\r'));
            _pending.RemoveRange(0, newline + 1);
        }

        return lines;
    }

    /// <summary>
    /// read(2) on the descriptor itself: PipeStream's read first starts the runtime's socket engine (its asynchronous
    /// I/O for pipes), 0.13 ms of the parent's wait for a background mount (perf). 0 at the end of the pipe.
    /// </summary>
    private unsafe int ReadSome()
    {
        fixed (byte* buffer = _buffer)
        {
            while (true)
            {
                nint read = Libc.Read(_fd, buffer, (nuint)_buffer.Length);
                if (read >= 0)
                {
                    return (int)read;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != Errno.EINTR)
                {
                    throw new IOException($"reading the background server's output failed: {Marshal.GetPInvokeErrorMessage(errno)}");
                }
            }
        }
    }
}
