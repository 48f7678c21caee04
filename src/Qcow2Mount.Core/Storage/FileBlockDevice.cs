using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Platform;

namespace Qcow2Mount.Core.Storage;

/// <summary>
/// An <see cref="IBlockDevice"/> over a file, positional I/O through <see cref="RandomAccess"/> (thread-safe, no shared
/// position); holes and locks through the host's <see cref="HostPlatform"/>.
/// </summary>
public sealed partial class FileBlockDevice : IBlockDevice
{
    private readonly SafeFileHandle _handle;
    private ImageFileLock? _lock;
    private long _length;

    private FileBlockDevice(SafeFileHandle handle, string name, bool readOnly)
    {
        _handle = handle;
        Name = name;
        IsReadOnly = readOnly;
        _length = RandomAccess.GetLength(handle);
    }

    public string Name { get; }

    public bool IsReadOnly { get; }

    public long Length => Interlocked.Read(ref _length);

    public SafeFileHandle Handle => _handle;

    /// <summary>
    /// Opens <paramref name="path"/>; with <paramref name="lockImage"/> also takes QEMU's image locks on the handle
    /// (reader locks when <paramref name="readOnly"/>, else writer locks), held until <see cref="Dispose"/>.
    /// Throws <see cref="Errors.ImageLockedException"/> when another process (QEMU included) holds conflicting locks.
    /// </summary>
    public static FileBlockDevice Open(string path, bool readOnly, bool lockImage = false)
    {
        var handle = OpenShared(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite, exclusive: lockImage);
        var device = new FileBlockDevice(handle, path, readOnly);
        if (lockImage)
        {
            try
            {
                device._lock = ImageFileLock.Acquire(handle, path, write: !readOnly);
            }
            catch
            {
                handle.Dispose();
                throw;
            }
        }

        return device;
    }

    public int Read(long offset, Span<byte> buffer)
    {
        int total = 0;
        if (CpuTurns.Current is { Holding: true } turn)
        {
            // What the page cache holds is read holding the turn; the turn goes before the thread waits for the disk.
            total = HostPlatform.Space.ReadCached(_handle, buffer, offset);
            if (total < buffer.Length && offset + total < Length)
            {
                turn.GiveUp();
            }
        }

        while (total < buffer.Length)
        {
            int n = RandomAccess.Read(_handle, buffer[total..], offset + total);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        buffer[total..].Clear();
        return total;
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        EnsureWritable();
        RandomAccess.Write(_handle, data, offset);
        GrowTo(offset + data.Length);
    }

    public void Write(long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers)
    {
        EnsureWritable();
        RandomAccess.Write(_handle, buffers, offset);
        long total = 0;
        foreach (var b in buffers)
        {
            total += b.Length;
        }

        GrowTo(offset + total);
    }

    public void SetLength(long length)
    {
        EnsureWritable();
        RandomAccess.SetLength(_handle, length);
        Interlocked.Exchange(ref _length, length);
    }

    /// <summary>Drops the whole content: the file becomes <paramref name="length"/> bytes of zeros, ready to be written anew.</summary>
    public void Reset(long length)
    {
        EnsureWritable();
        HostPlatform.Space.Reset(_handle, length);
        Interlocked.Exchange(ref _length, length);
    }

    /// <summary>
    /// Syncs the file. The serving thread keeps its <see cref="ICpuTurn"/>: a qcow2 image makes its ordering syncs
    /// under its metadata lock, which every other request to it waits for anyway (a caller without such a lock gives
    /// the turn up first, as <see cref="RawDisk.Flush"/> and the last sync of <see cref="Qcow2.Qcow2Image.Flush"/> do).
    /// </summary>
    public void Flush()
    {
        if (!IsReadOnly)
        {
            HostPlatform.Space.SyncData(_handle, Name);
        }
    }

    /// <summary>
    /// Starts writing what was written so far to storage, without waiting (a long copy calls it as it goes, so the
    /// disk works while the CPU does and the final <see cref="Flush"/> finds little left). Durable only after a flush.
    /// </summary>
    public void StartWriteBack()
    {
        if (!IsReadOnly)
        {
            HostPlatform.Space.StartWriteBack(_handle);
        }
    }

    public void PunchHole(long offset, long length)
    {
        if (IsReadOnly || length <= 0)
        {
            return;
        }

        // Best effort: a file system without hole punching keeps the old bytes, which nothing reads any more.
        _ = HostPlatform.Space.PunchHole(_handle, offset, length);
    }

    public bool TryZeroRange(long offset, long length)
    {
        EnsureWritable();
        if (length <= 0)
        {
            return true;
        }

        if (!HostPlatform.Space.ZeroRange(_handle, offset, length))
        {
            return false;
        }

        GrowTo(offset + length);
        return true;
    }

    /// <summary>Releases the image locks, then closes the file (the locks must outlive the last write).</summary>
    public void Dispose()
    {
        _lock?.Dispose();
        _lock = null;
        _handle.Dispose();
    }

    /// <summary>
    /// Opens with the host's share mode for a locked (<paramref name="exclusive"/>) or unlocked open; an open refused
    /// because someone else has the file without sharing it (Windows) is <see cref="ImageLockedException"/>.
    /// </summary>
    private static SafeFileHandle OpenShared(string path, FileMode mode, FileAccess access, bool exclusive)
    {
        var locking = HostPlatform.Locking;
        try
        {
            return File.OpenHandle(path, mode, access, locking.Share(exclusive));
        }
        catch (IOException e) when (locking.IsSharingViolation(e))
        {
            throw new ImageLockedException($"{path}: image is in use by another process (it is open without sharing writes)");
        }
    }

    private void EnsureWritable()
    {
        if (IsReadOnly)
        {
            throw new Errors.ReadOnlyImageException(Name);
        }
    }

    private void GrowTo(long end)
    {
        long current;
        do
        {
            current = Interlocked.Read(ref _length);
            if (end <= current)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref _length, end, current) != current);
    }
}
