using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core.Interop;

namespace Qcow2Mount.Core.Platform;

/// <summary>
/// Windows: share modes, not byte locks. A locked open (writer or reader) shares only reading, so a writer excludes
/// every other writer and every locking reader, and a reader excludes writers; an unlocked open (force-share, as
/// <c>info</c>) shares everything. Every Windows program obeys share modes at open. LockFileEx is mandatory on
/// Windows: a lock on QEMU's bytes 100-203 would block our own header writes there (a shared lock denies writing to
/// everyone, its holder included), and QEMU for Windows takes no such locks to agree with.
/// </summary>
[SupportedOSPlatform("windows")]
internal sealed class WindowsFileLocking : IFileLocking
{
    public bool UsesByteLocks => false;

    public FileShare Share(bool exclusive) => exclusive ? FileShare.Read | FileShare.Delete : FileShare.ReadWrite | FileShare.Delete;

    public bool IsSharingViolation(IOException e) => (e.HResult & 0xFFFF) is Kernel32.ERROR_SHARING_VIOLATION or Kernel32.ERROR_LOCK_VIOLATION;

    public int TryLockByte(SafeFileHandle file, long offset) => throw new PlatformNotSupportedException("no byte locks on Windows");

    public void UnlockByte(SafeFileHandle file, long offset) => throw new PlatformNotSupportedException("no byte locks on Windows");

    public bool IsByteLockedByOthers(SafeFileHandle file, string name, long offset) => throw new PlatformNotSupportedException("no byte locks on Windows");
}
