using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libc
{
    /// <summary>poll revents bit: the descriptor is in error (on /dev/fuse: the connection has ended).</summary>
    public const short POLLERR = 0x8;

    /// <summary><c>int poll(struct pollfd*, nfds_t, int timeout)</c>; <see cref="PollFd"/> is <c>struct pollfd</c>.</summary>
    [LibraryImport(LibraryName, EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);
}
