using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

/// <summary>The few libc functions the FUSE shim and the mount command need.</summary>
internal static partial class Libc
{
    private const string LibraryName = "libc";

    /// <summary>umount2 flag: detach now, finish when the last user goes (lazy unmount).</summary>
    public const int MNT_DETACH = 2;

    [LibraryImport(LibraryName, EntryPoint = "umount2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Umount2(string target, int flags);

    [LibraryImport(LibraryName, EntryPoint = "geteuid")]
    public static partial uint GetEUid();

    [LibraryImport(LibraryName, EntryPoint = "getegid")]
    public static partial uint GetEGid();

    /// <summary>Starts a new session (no controlling terminal); fails only for a process group leader.</summary>
    [LibraryImport(LibraryName, EntryPoint = "setsid", SetLastError = true)]
    public static partial int SetSid();

    /// <summary>fcntl commands and flags used here (asm-generic/fcntl.h, the same on x86_64 and aarch64).</summary>
    public const int F_GETFD = 1, F_SETFD = 2, FD_CLOEXEC = 1, F_DUPFD_CLOEXEC = 1030;

    /// <summary>
    /// <c>int fcntl(int, int, ...)</c> with one int argument. Bound with a fixed signature: every fcntl command used
    /// here takes an int, which the Linux calling conventions pass like a fixed argument.
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);

    /// <summary>poll revents bit: the descriptor is in error (on /dev/fuse: the connection has ended).</summary>
    public const short POLLERR = 0x8;

    /// <summary><c>int poll(struct pollfd*, nfds_t, int timeout)</c>; <see cref="PollFd"/> is <c>struct pollfd</c>.</summary>
    [LibraryImport(LibraryName, EntryPoint = "poll", SetLastError = true)]
    public static unsafe partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    [LibraryImport(LibraryName, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    /// <summary><c>ssize_t read(int, void*, size_t)</c>: on /dev/fuse, exactly one request per call.</summary>
    [LibraryImport(LibraryName, EntryPoint = "read", SetLastError = true)]
    public static unsafe partial nint Read(int fd, void* buffer, nuint count);

    /// <summary><c>ssize_t write(int, const void*, size_t)</c>: on /dev/fuse, exactly one reply per call.</summary>
    [LibraryImport(LibraryName, EntryPoint = "write", SetLastError = true)]
    public static unsafe partial nint Write(int fd, void* buffer, nuint count);

    [LibraryImport(LibraryName, EntryPoint = "dup2", SetLastError = true)]
    public static partial int Dup2(int oldFd, int newFd);
}
