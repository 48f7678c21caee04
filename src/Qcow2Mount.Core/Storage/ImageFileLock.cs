using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Platform;

namespace Qcow2Mount.Core.Storage;

/// <summary>
/// QEMU-compatible image locking (qemu-behaviour.md §11): shared Linux OFD locks on single bytes, 100 + i for each
/// permission held and 200 + i for each permission refused to others (i: 0 CONSISTENT_READ, 1 WRITE, 3 RESIZE).
/// A writer holds 100, 101, 103 and refuses 201, 203; a reader holds 100 and refuses 201, 203. So readers coexist,
/// and a writer conflicts with any other reader or writer — both ours and QEMU's (without -U / force-share).
/// Invariant: the locks live as long as the open file description of the handle (OFD locks follow the description,
/// not the process), so the handle must stay open while the image is in use; <see cref="Dispose"/> releases them.
/// The bytes are taken through <see cref="HostPlatform.Locking"/>. On Windows no bytes are locked: there the share
/// mode the image was opened with (<see cref="IFileLocking.Share"/>) keeps other writers out.
/// </summary>
public sealed class ImageFileLock : IDisposable
{
    private const int ConsistentRead = 0;
    private const int WritePermission = 1;
    private const int Resize = 3;
    private const long PermissionBase = 100;
    private const long SharedBase = 200;

    private static readonly string[] PermissionNames = ["consistent read", "write", "write unchanged", "resize"];

    private readonly SafeFileHandle _handle;
    private readonly long[] _bytes;

    private ImageFileLock(SafeFileHandle handle, long[] bytes)
    {
        _handle = handle;
        _bytes = bytes;
    }

    /// <summary>The locked byte offsets, ascending (for tests and diagnostics).</summary>
    public IReadOnlyList<long> Bytes => _bytes;

    /// <summary>
    /// Takes the reader (<paramref name="write"/> false) or writer locks on <paramref name="handle"/>, then checks that no
    /// other open file description holds a conflicting byte. Locking first and checking second means two racing openers
    /// both see each other and both fail, never both succeed. Throws <see cref="ImageLockedException"/> on conflict.
    /// </summary>
    public static ImageFileLock Acquire(SafeFileHandle handle, string name, bool write)
    {
        var locking = HostPlatform.Locking;
        if (!locking.UsesByteLocks)
        {
            return new ImageFileLock(handle, []);
        }

        int[] held = write ? [ConsistentRead, WritePermission, Resize] : [ConsistentRead];
        int[] refused = [WritePermission, Resize];
        long[] bytes = [.. held.Select(p => PermissionBase + p), .. refused.Select(p => SharedBase + p)];
        Array.Sort(bytes);

        var result = new ImageFileLock(handle, bytes);
        try
        {
            foreach (long b in bytes)
            {
                LockByte(locking, handle, name, b);
            }

            // Someone refuses to share a permission we want → 'failed to get "X" lock'.
            foreach (int p in held)
            {
                if (locking.IsByteLockedByOthers(handle, name, SharedBase + p))
                {
                    throw Conflict(name, $"failed to get \"{PermissionNames[p]}\" lock");
                }
            }

            // Someone holds a permission we refuse to share → 'failed to get shared "X" lock'.
            foreach (int p in refused)
            {
                if (locking.IsByteLockedByOthers(handle, name, PermissionBase + p))
                {
                    throw Conflict(name, $"failed to get shared \"{PermissionNames[p]}\" lock");
                }
            }

            return result;
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    /// <summary>Releases the locks (closing the handle would too).</summary>
    public void Dispose()
    {
        if (_handle.IsClosed)
        {
            return;
        }

        foreach (long b in _bytes)
        {
            HostPlatform.Locking.UnlockByte(_handle, b);
        }
    }

    /// <summary>Locks of other processes (EAGAIN) or descriptions (EACCES on some systems) conflict.</summary>
    private static void LockByte(IFileLocking locking, SafeFileHandle handle, string name, long offset)
    {
        const int EAGAIN = 11, EACCES = 13;
        int errno = locking.TryLockByte(handle, offset);
        if (errno is EAGAIN or EACCES)
        {
            throw new ImageLockedException($"{name}: image is in use by another process (failed to lock byte {offset})");
        }

        if (errno != 0)
        {
            throw new IOException($"{name}: cannot lock byte {offset}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }
    }

    private static ImageLockedException Conflict(string name, string detail) =>
        new($"{name}: image is in use by another process ({detail})");
}
