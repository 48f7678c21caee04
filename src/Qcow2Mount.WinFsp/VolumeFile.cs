using Qcow2Mount.Core;
using Qcow2Mount.Core.Vfs;

namespace Qcow2Mount.WinFsp;

/// <summary>
/// One raw file of an <see cref="ImageVolume"/>: the disk behind it and its four Windows times (FILETIME). The last
/// write time is the image file's <see cref="ImageFile.ModifiedUtc"/>; the other three live only for the mount.
/// </summary>
internal sealed class VolumeFile
{
    private readonly ImageFile _file;
    private long _creationTime;
    private long _lastAccessTime;
    private long _changeTime;

    public VolumeFile(ImageFile file, int index)
    {
        _file = file;
        Index = index;
        long modified = file.ModifiedUtc.ToFileTimeUtc();
        _creationTime = modified;
        _lastAccessTime = modified;
        _changeTime = modified;
    }

    public string Name => _file.Name;

    /// <summary>Place in <see cref="ImageVolume.Files"/>.</summary>
    public int Index { get; }

    public long Length => Disk.Length;

    public bool IsReadOnly => Disk.IsReadOnly;

    public long CreationTime
    {
        get => Interlocked.Read(ref _creationTime);
        set => Interlocked.Exchange(ref _creationTime, value);
    }

    public long LastAccessTime
    {
        get => Interlocked.Read(ref _lastAccessTime);
        set => Interlocked.Exchange(ref _lastAccessTime, value);
    }

    public long LastWriteTime
    {
        get => _file.ModifiedUtc.ToFileTimeUtc();
        set => _file.ModifiedUtc = DateTime.FromFileTimeUtc(value);
    }

    public long ChangeTime
    {
        get => Interlocked.Read(ref _changeTime);
        set => Interlocked.Exchange(ref _changeTime, value);
    }

    private IVirtualDisk Disk => _file.Disk;

    /// <summary>Reads exactly <c>buffer.Length</c> bytes at <paramref name="offset"/>; the range must lie inside the disk.</summary>
    public void Read(long offset, Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            int n = Disk.Read(offset, buffer);
            if (n <= 0)
            {
                throw new IOException($"{Name}: the disk ended at {offset} inside its length {Length}");
            }

            offset += n;
            buffer = buffer[n..];
        }
    }

    /// <summary>Writes all of <paramref name="data"/>; the range must lie inside the disk.</summary>
    public void Write(long offset, ReadOnlySpan<byte> data) => Disk.Write(offset, data);

    public void Flush() => Disk.Flush();
}
