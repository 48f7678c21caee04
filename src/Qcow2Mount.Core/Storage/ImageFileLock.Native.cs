using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core.Errors;

namespace Qcow2Mount.Core.Storage;

/// <summary>fcntl(2) with Linux open-file-description locks; <c>struct flock</c> is 32 bytes on x86_64 and aarch64.</summary>
public sealed partial class ImageFileLock
{
    private const int F_OFD_GETLK = 36;
    private const int F_OFD_SETLK = 37;
    private const short F_RDLCK = 0;
    private const short F_WRLCK = 1;
    private const short F_UNLCK = 2;
    private const short SEEK_SET = 0;

    /// <summary>Locks of other processes (EAGAIN) or descriptions (EACCES on some systems) conflict.</summary>
    private const int EAGAIN = 11;
    private const int EACCES = 13;

    private static void SetLock(SafeFileHandle handle, string name, long offset, short type)
    {
        int errno = TrySetLock(handle, offset, type);
        if (errno is EAGAIN or EACCES)
        {
            throw new ImageLockedException($"{name}: image is in use by another process (failed to lock byte {offset})");
        }

        if (errno != 0)
        {
            throw new IOException($"{name}: cannot lock byte {offset}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    /// <summary>Returns 0 or the errno.</summary>
    private static unsafe int TrySetLock(SafeFileHandle handle, long offset, short type)
    {
        var request = new Flock { Type = type, Whence = SEEK_SET, Start = offset, Length = 1 };
        return Fcntl(handle, F_OFD_SETLK, &request) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>True when another open file description holds any lock on the byte (probed with a write lock).</summary>
    private static unsafe bool IsLockedByOthers(SafeFileHandle handle, string name, long offset)
    {
        var probe = new Flock { Type = F_WRLCK, Whence = SEEK_SET, Start = offset, Length = 1 };
        if (Fcntl(handle, F_OFD_GETLK, &probe) != 0)
        {
            throw new IOException($"{name}: cannot test the lock on byte {offset}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        return probe.Type != F_UNLCK;
    }

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static unsafe partial int Fcntl(SafeFileHandle fd, int command, Flock* flock);

    [StructLayout(LayoutKind.Explicit, Size = 32)]
    private struct Flock
    {
        [FieldOffset(0)] public short Type;
        [FieldOffset(2)] public short Whence;
        [FieldOffset(8)] public long Start;
        [FieldOffset(16)] public long Length;
        [FieldOffset(24)] public int Pid;
    }
}
