using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core.Interop;

namespace Qcow2Mount.Core.Platform;

/// <summary>
/// Linux: open-file-description locks (fcntl F_OFD_SETLK/GETLK) on single bytes, which QEMU's own locks (also OFD)
/// see and respect; files are opened sharing everything (.NET's share emulation would only add a flock).
/// </summary>
internal sealed class LinuxFileLocking : IFileLocking
{
    public bool UsesByteLocks => true;

    public FileShare Share(bool exclusive) => FileShare.ReadWrite | FileShare.Delete;

    public bool IsSharingViolation(IOException e) => false;

    public unsafe int TryLockByte(SafeFileHandle file, long offset) => SetLock(file, offset, Flock.F_RDLCK);

    public void UnlockByte(SafeFileHandle file, long offset) => _ = SetLock(file, offset, Flock.F_UNLCK);

    public unsafe bool IsByteLockedByOthers(SafeFileHandle file, string name, long offset)
    {
        var probe = new Flock { Type = Flock.F_WRLCK, Whence = Flock.SEEK_SET, Start = offset, Length = 1 };
        if (Libc.Fcntl(file, Libc.F_OFD_GETLK, &probe) != 0)
        {
            throw new IOException($"{name}: cannot test the lock on byte {offset}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }

        return probe.Type != Flock.F_UNLCK;
    }

    private static unsafe int SetLock(SafeFileHandle file, long offset, short type)
    {
        var request = new Flock { Type = type, Whence = Flock.SEEK_SET, Start = offset, Length = 1 };
        return Libc.Fcntl(file, Libc.F_OFD_SETLK, &request) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }
}
