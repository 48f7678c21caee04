using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Core.Platform;

/// <summary>
/// How an image is kept from other writers. Linux: QEMU's OFD byte locks (<see cref="Storage.ImageFileLock"/> speaks
/// the protocol, this type takes and tests single bytes), the file opened sharing everything. Windows: share modes at
/// open (a writer or a locking reader lets others only read), no byte locks.
/// </summary>
internal interface IFileLocking
{
    /// <summary>True when <see cref="Storage.ImageFileLock"/> takes QEMU's byte locks on this host.</summary>
    bool UsesByteLocks { get; }

    /// <summary>The share mode to open an image with: <paramref name="exclusive"/> for a locked open.</summary>
    FileShare Share(bool exclusive);

    /// <summary>True when opening failed because another open of the file does not share it.</summary>
    bool IsSharingViolation(IOException e);

    /// <summary>Takes a shared (read) lock on one byte: 0, or the errno (EAGAIN/EACCES = someone else's lock conflicts).</summary>
    int TryLockByte(SafeFileHandle file, long offset);

    /// <summary>Drops the lock on one byte; errors are ignored (closing the file drops it too).</summary>
    void UnlockByte(SafeFileHandle file, long offset);

    /// <summary>True when another open of the file holds any lock on the byte. Throws <see cref="IOException"/> when it cannot ask.</summary>
    bool IsByteLockedByOthers(SafeFileHandle file, string name, long offset);
}
