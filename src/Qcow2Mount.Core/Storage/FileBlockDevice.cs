using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Core.Storage;

/// <summary>An <see cref="IBlockDevice"/> over a file, positional I/O through <see cref="RandomAccess"/> (thread-safe, no shared position).</summary>
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
        var handle = File.OpenHandle(
            path,
            FileMode.Open,
            readOnly ? FileAccess.Read : FileAccess.ReadWrite,
            FileShare.ReadWrite | FileShare.Delete);
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

    public void Flush()
    {
        if (!IsReadOnly)
        {
            RandomAccess.FlushToDisk(_handle);
        }
    }

    public void PunchHole(long offset, long length)
    {
        if (IsReadOnly || length <= 0 || !OperatingSystem.IsLinux())
        {
            return;
        }

        const int FALLOC_FL_KEEP_SIZE = 1, FALLOC_FL_PUNCH_HOLE = 2;
        // Best effort: a file system without hole punching keeps the old bytes, which nothing reads any more.
        _ = LinuxFallocate(_handle, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
    }

    public bool TryZeroRange(long offset, long length)
    {
        EnsureWritable();
        if (length <= 0 || !OperatingSystem.IsLinux())
        {
            return length <= 0;
        }

        const int FALLOC_FL_ZERO_RANGE = 0x10;
        if (LinuxFallocate(_handle, FALLOC_FL_ZERO_RANGE, offset, length) != 0)
        {
            return false; // EOPNOTSUPP on file systems without it (tmpfs before 6.x, NFS, …)
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

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int LinuxFallocate(SafeFileHandle fd, int mode, long offset, long length);
}
