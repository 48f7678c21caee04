using System.Runtime.ExceptionServices;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Platform;
using Qcow2Mount.Core.Qcow2;

namespace Qcow2Mount.Core.Vfs;

/// <summary>
/// The directory a mount shows, one raw file per image (named by <see cref="RawNames"/>), and the file rules of
/// <see cref="IVirtualFileSystem"/>. Owns the disks and disposes them.
/// Invariant: a raw file never changes size. Reads stop at the end; a write past the end is refused or cut as the
/// shim's <see cref="WritePastEnd"/> says; size changes are refused; a read-only mount refuses every change.
/// <see cref="IsReadOnly"/> is fixed by the images added: a disk that turns read-only later (corruption found) fails
/// its own writes, while the other images of the mount still write and flush.
/// </summary>
public sealed class ImageDirectory : IVirtualFileSystem
{
    private readonly List<RawFile> _files = [];
    private readonly Dictionary<string, RawFile> _byName;
    private readonly bool _readOnly;
    private bool _anyDiskReadOnly;

    /// <param name="caseSensitiveNames">False where the platform compares names ignoring case (Windows).</param>
    /// <param name="readOnly">Refuse every change even where the disks could write.</param>
    public ImageDirectory(bool caseSensitiveNames = true, bool readOnly = false)
    {
        CaseSensitiveNames = caseSensitiveNames;
        _byName = new Dictionary<string, RawFile>(caseSensitiveNames ? StringComparer.Ordinal : StringComparer.OrdinalIgnoreCase);
        _readOnly = readOnly;
        Root = new RootDirectory(DateTime.UtcNow);
    }

    public bool IsReadOnly => _readOnly || _anyDiskReadOnly;

    public bool CaseSensitiveNames { get; }

    public RootDirectory Root { get; }

    public IReadOnlyList<RawFile> Files => _files;

    public VolumeCapacity Capacity => new(_files.Sum(f => VolumeCapacity.RoundUp(f.Size)), _files.Count, VolumeCapacity.NameMax);

    /// <summary>
    /// Opens and locks the images of one mount, in order (read-only when <paramref name="options"/> say so). One pool of
    /// backing layers serves the whole mount, so overlays of one base share a single read-only open of it. Nothing
    /// stays open when one image fails.
    /// </summary>
    /// <param name="vhd">Also show each image as a fixed VHD (<see cref="AddVhd"/>), right after its raw file.</param>
    /// <param name="snapshots">
    /// Internal snapshots to show too (each its own read-only view of the image file, through the same engine; the
    /// live image holds the lock) or instead (<see cref="SnapshotMount.Only"/>: the directory is read-only).
    /// </param>
    public static ImageDirectory Open(IReadOnlyList<string> images, string? format, ImageOpenOptions options, bool caseSensitiveNames, bool vhd = false, SnapshotMount? snapshots = null)
    {
        snapshots ??= SnapshotMount.None;
        var directory = new ImageDirectory(caseSensitiveNames, options.ReadOnly || snapshots.Only is not null);
        try
        {
            var shared = options with { BackingLayers = new BackingLayerPool() };
            foreach (string path in images)
            {
                if (snapshots.Only is { } only)
                {
                    directory.AddSnapshot(path, RawNames.For(path), OpenSnapshot(path, format, shared with { ReadOnly = true, Snapshot = only }));
                    continue;
                }

                var live = directory.Add(path, DiskImage.Open(path, format, shared));
                if (vhd)
                {
                    directory.AddVhd(live);
                }

                if (snapshots.All && live.Disk is Qcow2Image { Snapshots: { Count: > 0 } entries })
                {
                    for (int i = 0; i < entries.Count; i++)
                    {
                        var view = shared with { ReadOnly = true, Lock = false, Snapshot = new SnapshotSelector { Index = i } };
                        directory.AddSnapshot(path, live.Name, Qcow2Image.Open(path, view));
                    }
                }
            }

            return directory;
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Adds <paramref name="disk"/> (opened from <paramref name="imagePath"/>) under its raw name. Call while the working
    /// directory is still the one the disk was opened in: a relative data file name is relative to it.
    /// </summary>
    public RawFile Add(string imagePath, IVirtualDisk disk)
    {
        string name = RawNames.Unique(RawNames.For(imagePath), _byName.ContainsKey);
        var file = new RawFile(name, imagePath, disk, _files.Count);
        _files.Add(file);
        _byName.Add(name, file);
        _anyDiskReadOnly |= disk.IsReadOnly;
        return file;
    }

    /// <summary>
    /// Adds the fixed-VHD view of <paramref name="raw"/>'s disk (<c>disk.vhd</c>: the same bytes, then a footer that is
    /// read-only; <see cref="FixedVhdDisk"/>). The disk stays the raw file's.
    /// </summary>
    /// <exception cref="Hosting.MountFailedException">The disk is not a whole number of 512-byte sectors (a VHD cannot hold it).</exception>
    public RawFile AddVhd(RawFile raw)
    {
        if (raw.Size % VhdFooter.SectorSize != 0)
        {
            throw new Hosting.MountFailedException($"{raw.SourcePath}: --vhd needs a virtual size that is a multiple of 512 bytes (it is {raw.Size})");
        }

        string name = RawNames.Unique(RawNames.VhdFor(raw.SourcePath), _byName.ContainsKey);
        var file = new RawFile(name, raw.SourcePath, new FixedVhdDisk(raw.Disk, raw.SourcePath, name), _files.Count);
        _files.Add(file);
        _byName.Add(name, file);
        return file;
    }

    /// <summary>
    /// Adds the snapshot view <paramref name="snapshot"/> of the image shown as <paramref name="liveName"/> under its
    /// <see cref="SnapshotFileNames"/> name: a read-only file that leaves the rest of the directory writable. A name
    /// is taken when a file of the directory has it ignoring case, on every platform: two snapshots whose names differ
    /// only in case would be one file on Windows, and one image shows the same snapshot file names everywhere.
    /// </summary>
    public RawFile AddSnapshot(string imagePath, string liveName, Qcow2Image snapshot)
    {
        var entry = snapshot.Snapshot ?? throw new ArgumentException($"{imagePath}: not a snapshot view", nameof(snapshot));
        string name = RawNames.Unique(SnapshotFileNames.For(liveName, entry), n => _files.Exists(f => string.Equals(f.Name, n, StringComparison.OrdinalIgnoreCase)));
        var file = new RawFile(name, imagePath, snapshot, _files.Count, isSnapshot: true);
        _files.Add(file);
        _byName.Add(name, file);
        return file;
    }

    public RawFile? Find(string name) => _byName.GetValueOrDefault(name);

    public NodeInfo GetInfo(VfsNode node) => node switch
    {
        RawFile file => new NodeInfo(file.Id, false, file.Size, IsReadOnly || file.IsSnapshot ? 0x100u /* 0400 */ : 0x180u /* 0600 */, IsReadOnly || file.IsSnapshot, file.Times),
        _ => new NodeInfo(node.Id, true, 0, 0x1EDu /* 0755 */, IsReadOnly, node.Times),
    };

    /// <summary>One stat per host file per call (the kernel caches attributes for a second).</summary>
    public long AllocatedBytes(RawFile file)
    {
        long total = 0;
        bool any = false;
        foreach (string path in file.HostFiles)
        {
            if (HostPlatform.Space.AllocatedBytes(path) is { } allocated)
            {
                total += allocated;
                any = true;
            }
        }

        return any ? total : file.Size;
    }

    public IReadOnlyList<RawFile> List(VfsNode node) => node.IsDirectory ? _files : throw new NotADirectoryException(node.Name);

    /// <summary>Kind first, then the read-only policy for writers, then O_TRUNC (refused unless the file is empty).</summary>
    public void Open(VfsNode node, OpenRequest request)
    {
        if (request.Expect == NodeKind.File && node is not RawFile)
        {
            throw new IsADirectoryException(Describe(node));
        }

        if (request.Expect == NodeKind.Directory && !node.IsDirectory)
        {
            throw new NotADirectoryException(node.Name);
        }

        if (node is RawFile file)
        {
            if (request.Write && (IsReadOnly || file.IsSnapshot))
            {
                throw new ReadOnlyFileSystemException(file.Name);
            }

            if (request.Truncate)
            {
                CheckSize(file, 0);
            }
        }
    }

    public int Read(RawFile file, Span<byte> buffer, long offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        long size = file.Size;
        if (offset >= size || buffer.IsEmpty)
        {
            return 0;
        }

        int count = (int)Math.Min(buffer.Length, size - offset);
        for (int done = 0; done < count;)
        {
            int n = file.Disk.Read(offset + done, buffer[done..count]);
            if (n <= 0)
            {
                throw new IOException($"{file.Name}: the disk ended at {offset + done} inside its length {size}");
            }

            done += n;
        }

        return count;
    }

    /// <summary>A write changes the modification and change times.</summary>
    public int Write(RawFile file, ReadOnlySpan<byte> data, long offset, WritePastEnd pastEnd)
    {
        CheckWritable(file);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (data.IsEmpty)
        {
            return 0;
        }

        long size = file.Size;
        int count = (int)Math.Min(data.Length, offset >= size ? 0 : size - offset);
        if (count < data.Length)
        {
            bool refused = pastEnd switch
            {
                WritePastEnd.WriteWhatFits => count == 0,
                WritePastEnd.Refuse => true,
                _ => false,
            };
            if (refused)
            {
                throw new WritePastEndException(file.Name, offset, data.Length, size);
            }

            if (count == 0)
            {
                return 0;
            }
        }

        file.Disk.Write(offset, data[..count]);
        file.Touch(TimeFields.Modified | TimeFields.Changed, DateTime.UtcNow);
        return count;
    }

    /// <summary>
    /// PunchHole → WriteZeroes with unmap, Zero → WriteZeroes without. With KeepSize the range is clipped at the end of
    /// the disk; without it a range past the end would grow the file (<see cref="RangePastEndException"/>). Reserve is
    /// refused once the range is known to be valid: nothing can be reserved, and success would be a promise we cannot keep.
    /// </summary>
    public void Allocate(RawFile file, SpaceRequest request)
    {
        var (operation, offset, length, keepSize) = request;
        if (offset < 0 || length <= 0 || offset > long.MaxValue - length)
        {
            throw new ArgumentOutOfRangeException(nameof(request), $"{file.Name}: bad range {offset}+{length}");
        }

        CheckWritable(file);
        long size = file.Size;
        long end = offset + length;
        if (end > size && !keepSize)
        {
            throw new RangePastEndException(file.Name, end, size);
        }

        if (operation == SpaceOperation.Reserve)
        {
            throw new UnsupportedRequestException(file.Name, "reserving space");
        }

        end = Math.Min(end, size);
        if (end > offset)
        {
            file.Disk.WriteZeroes(offset, end - offset, mayUnmap: operation == SpaceOperation.PunchHole);
            file.Touch(TimeFields.Modified | TimeFields.Changed, DateTime.UtcNow);
        }
    }

    public long? Seek(RawFile file, long offset, SeekTarget target)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        long size = file.Size;
        for (long position = offset; position < size;)
        {
            var status = file.Disk.GetBlockStatus(position, size - position);
            bool hole = (status.Flags & BlockStatusFlags.Zero) != 0;
            if (hole == (target == SeekTarget.Hole))
            {
                return position;
            }

            position += Math.Max(status.Length, 1);
        }

        return target == SeekTarget.Hole && offset < size ? size : null;
    }

    public void SetSize(VfsNode node, long size)
    {
        var file = node as RawFile ?? throw new IsADirectoryException(Describe(node));
        CheckWritable(file);
        CheckSize(file, size);
    }

    public void SetAllocationSize(RawFile file, long size)
    {
        CheckWritable(file);
        if (size < file.Size)
        {
            throw new SizeChangeRefusedException(file.Name, file.Size, size);
        }
    }

    public void SetTimes(VfsNode node, TimesUpdate update)
    {
        CheckWritable(node);
        node.Update(update, DateTime.UtcNow);
    }

    public void Touch(VfsNode node, TimeFields fields) => node.Touch(fields, DateTime.UtcNow);

    public VfsException RefusalOf(ChangeKind change, VfsNode? target = null) =>
        IsReadOnly ? new ReadOnlyFileSystemException(target is null ? change.ToString() : Describe(target)) : new ChangeRefusedException(change, target is not null);

    public void Flush(RawFile file)
    {
        if (!IsReadOnly)
        {
            file.Disk.Flush();
        }
    }

    public void FlushAll()
    {
        ExceptionDispatchInfo? first = null;
        FlushWritable((_, e) => first ??= ExceptionDispatchInfo.Capture(e));
        first?.Throw();
    }

    public bool Close(Action<string> log)
    {
        bool ok = true;
        FlushWritable((file, e) =>
        {
            if (e is not (IOException or UnauthorizedAccessException))
            {
                ExceptionDispatchInfo.Throw(e);
            }

            log($"{file.SourcePath}: flush on unmount failed: {e.Message}");
            ok = false;
        });
        Dispose();
        return ok;
    }

    public void Dispose()
    {
        foreach (var f in _files)
        {
            f.Disk.Dispose();
        }

        _files.Clear();
        _byName.Clear();
    }

    /// <summary>A snapshot is a qcow2 feature: a raw image (given or probed) has none to show.</summary>
    private static Qcow2Image OpenSnapshot(string path, string? format, ImageOpenOptions options) =>
        DiskImage.ResolveFormat(path, format) == "qcow2"
            ? Qcow2Image.Open(path, options)
            : throw new Errors.SnapshotNotFoundException($"{path}: a raw image has no internal snapshots");

    private static string Describe(VfsNode node) => node.Name.Length == 0 ? "/" : node.Name;

    private static void CheckSize(RawFile file, long size)
    {
        if (size != file.Size)
        {
            throw new SizeChangeRefusedException(file.Name, file.Size, size);
        }
    }

    /// <summary>Flushes every disk that can write (none on a read-only mount), passing each failure to <paramref name="failed"/>.</summary>
    private void FlushWritable(Action<RawFile, Exception> failed)
    {
        if (IsReadOnly)
        {
            return;
        }

        foreach (var file in _files)
        {
            if (file.Disk.IsReadOnly)
            {
                continue;
            }

            try
            {
                file.Disk.Flush();
            }
            catch (Exception e)
            {
                failed(file, e);
            }
        }
    }

    private void CheckWritable(VfsNode node)
    {
        if (IsReadOnly || node is RawFile { IsSnapshot: true })
        {
            throw new ReadOnlyFileSystemException(Describe(node));
        }
    }
}
