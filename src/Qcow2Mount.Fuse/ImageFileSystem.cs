using Qcow2Mount.Core;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Vfs;
using FileStatus = Qcow2Mount.Core.Interop.FileStatus;
using Qcow2Mount.Fuse.Interop;
using static Qcow2Mount.Fuse.Interop.LinuxConstants;

namespace Qcow2Mount.Fuse;

/// <summary>
/// The FUSE semantics of an <see cref="ImageDirectory"/>, free of native types: a root directory holding one
/// fixed-size raw file per image. Every method returns 0, a byte count or an offset on success and −errno on failure;
/// exceptions from the disks are mapped by <see cref="ErrnoMap"/> and never leave this class.
/// Invariant: a file never changes size — writes past the end fail with ENOSPC (as on a block device), requests that
/// would grow it with EFBIG, truncation to another size with EPERM.
/// A raw file is the mounting user's alone (0600, 0400 read-only, as QEMU's FUSE export): with allow_other nobody
/// else reads the disk of a root-only image unless umask= opens it.
/// </summary>
internal sealed class ImageFileSystem
{
    /// <summary>Handle value for "no file": file handles are the index in <see cref="ImageDirectory.Files"/> plus one.</summary>
    public const ulong NoHandle = 0;

    private const ulong RootInode = 1;
    private const int FileNameMax = 255;

    private readonly ImageDirectory _directory;
    private readonly string[][] _hostFiles;
    private readonly object _rootTimesGate = new();
    private DateTime _rootAccessedUtc = DateTime.UtcNow;
    private DateTime _rootModifiedUtc;
    private DateTime _rootChangedUtc;

    /// <summary>Construct while the working directory is still the mount command's: a relative data file name is relative to it.</summary>
    public ImageFileSystem(ImageDirectory directory, bool readOnly, Action<string> log)
    {
        _directory = directory;
        ReadOnly = readOnly || directory.Files.Any(f => f.Disk.IsReadOnly);
        Log = log;
        _hostFiles = directory.Files.Select(HostFiles).ToArray();
        _rootModifiedUtc = _rootChangedUtc = _rootAccessedUtc;
    }

    /// <summary>True when the mount refuses every change (EROFS); also true when any disk was opened read-only.</summary>
    public bool ReadOnly { get; }

    public Action<string> Log { get; }

    public IReadOnlyList<ImageFile> Files => _directory.Files;

    /// <summary>
    /// Resolves "/" to node 0 (the root) or "/NAME" to the file's node, which is also its handle; −ENOENT for anything
    /// else. The kernel's node id of a node is the node plus one (the root is FUSE's node 1).
    /// </summary>
    public long Resolve(string path)
    {
        if (path == "/")
        {
            return 0;
        }

        if (path.Length < 2 || path[0] != '/' || path.IndexOf('/', 1) >= 0)
        {
            return -Errno.ENOENT;
        }

        var file = _directory.Find(path[1..]);
        return file is null ? -Errno.ENOENT : IndexOf(file) + 1;
    }

    /// <summary>Attributes of a node from <see cref="Resolve"/>; a negative node is returned as the error, an unknown one is −ENOENT.</summary>
    public int GetAttributes(long node, out NodeAttributes attributes)
    {
        attributes = default;
        long handle = Check(node);
        if (handle < 0)
        {
            return (int)handle;
        }

        if (handle == 0)
        {
            lock (_rootTimesGate)
            {
                attributes = new NodeAttributes(S_IFDIR | 0x1ED /* 0755 */, 2, 0, 0, _rootAccessedUtc, _rootModifiedUtc, _rootChangedUtc, RootInode);
            }

            return 0;
        }

        var file = Files[(int)handle - 1];
        uint permissions = ReadOnly ? 0x100u /* 0400 */ : 0x180u /* 0600 */;
        attributes = new NodeAttributes(
            S_IFREG | permissions, 1, file.Disk.Length, AllocatedBytes((int)handle - 1), file.AccessedUtc, file.ModifiedUtc, file.ChangedUtc, RootInode + (ulong)handle);
        return 0;
    }

    /// <summary>
    /// Sets the access and/or modification time of a node (touch, cp -p, rsync -t); null leaves one as it is. Times are
    /// kept for the life of the mount and never written to the image file (which a write changes anyway).
    /// </summary>
    public int SetTimes(long node, DateTime? accessedUtc, DateTime? modifiedUtc)
    {
        long handle = Check(node);
        if (handle < 0)
        {
            return (int)handle;
        }

        if (ReadOnly)
        {
            return -Errno.EROFS;
        }

        var now = DateTime.UtcNow;
        if (handle == 0)
        {
            lock (_rootTimesGate)
            {
                _rootAccessedUtc = accessedUtc ?? _rootAccessedUtc;
                _rootModifiedUtc = modifiedUtc ?? _rootModifiedUtc;
                _rootChangedUtc = now;
            }

            return 0;
        }

        var file = Files[(int)handle - 1];
        file.AccessedUtc = accessedUtc ?? file.AccessedUtc;
        file.ModifiedUtc = modifiedUtc ?? file.ModifiedUtc;
        file.ChangedUtc = now;
        return 0;
    }

    /// <summary>Names in the root directory, in image order (without "." and "..").</summary>
    public int ListDirectory(long node, out IReadOnlyList<string> names)
    {
        names = [];
        long handle = Check(node);
        if (handle < 0)
        {
            return (int)handle;
        }

        if (handle != 0)
        {
            return -Errno.ENOTDIR;
        }

        names = Files.Select(f => f.Name).ToArray();
        return 0;
    }

    /// <summary>Opens a raw file; returns its handle (≥ 1) or −errno. O_TRUNC is refused unless the file is empty.</summary>
    public long Open(long node, int flags)
    {
        long handle = Check(node);
        if (handle <= 0)
        {
            return handle == 0 ? -Errno.EISDIR : handle;
        }

        bool writing = (flags & O_ACCMODE) != O_RDONLY;
        if (writing && ReadOnly)
        {
            return -Errno.EROFS;
        }

        if ((flags & O_TRUNC) != 0 && Files[(int)handle - 1].Disk.Length != 0)
        {
            return -Errno.EPERM;
        }

        return handle;
    }

    /// <summary>Reads into <paramref name="buffer"/>; the count is short only at the end of the disk (the page cache relies on it).</summary>
    public int Read(ulong handle, Span<byte> buffer, long offset)
    {
        if (!TryGet(handle, out var file))
        {
            return -Errno.EBADF;
        }

        if (offset < 0)
        {
            return -Errno.EINVAL;
        }

        var disk = file.Disk;
        if (offset >= disk.Length)
        {
            return 0;
        }

        int count = (int)Math.Min(buffer.Length, disk.Length - offset);
        try
        {
            return disk.Read(offset, buffer[..count]);
        }
        catch (Exception e)
        {
            return -ErrnoMap.ToErrno(e, "read", file.Name, offset, Log);
        }
    }

    /// <summary>Writes what fits before the end of the disk; a write starting at or past the end fails with ENOSPC.</summary>
    public int Write(ulong handle, ReadOnlySpan<byte> data, long offset)
    {
        if (!TryGet(handle, out var file))
        {
            return -Errno.EBADF;
        }

        if (ReadOnly)
        {
            return -Errno.EROFS;
        }

        var disk = file.Disk;
        if (offset < 0)
        {
            return -Errno.EINVAL;
        }

        if (data.IsEmpty)
        {
            return 0;
        }

        if (offset >= disk.Length)
        {
            return -Errno.ENOSPC;
        }

        int count = (int)Math.Min(data.Length, disk.Length - offset);
        try
        {
            disk.Write(offset, data[..count]);
            Modified(file);
            return count;
        }
        catch (Exception e)
        {
            return -ErrnoMap.ToErrno(e, "write", file.Name, offset, Log);
        }
    }

    /// <summary>fsync, and flush (close) of a descriptor that could write: everything written becomes durable.</summary>
    public int Flush(ulong handle)
    {
        if (!TryGet(handle, out var file))
        {
            return -Errno.EBADF;
        }

        if (ReadOnly)
        {
            return 0;
        }

        try
        {
            file.Disk.Flush();
            return 0;
        }
        catch (Exception e)
        {
            return -ErrnoMap.ToErrno(e, "flush", file.Name, 0, Log);
        }
    }

    /// <summary>
    /// PUNCH_HOLE|KEEP_SIZE → WriteZeroes with unmap; ZERO_RANGE(|KEEP_SIZE) → WriteZeroes without unmap. With KEEP_SIZE
    /// the range is clipped at the end of the disk; without it a range past the end would grow the file: EFBIG.
    /// Plain allocation (mode 0, or KEEP_SIZE alone) is EOPNOTSUPP, as on a block device: nothing can be reserved (an
    /// overlay's clusters come from the host file system when written), and success would be a promise we cannot keep.
    /// Other modes: EOPNOTSUPP.
    /// </summary>
    public int Allocate(ulong handle, int mode, long offset, long length)
    {
        if (!TryGet(handle, out var file))
        {
            return -Errno.EBADF;
        }

        if (offset < 0 || length <= 0 || offset > long.MaxValue - length)
        {
            return -Errno.EINVAL;
        }

        bool keepSize = (mode & FALLOC_FL_KEEP_SIZE) != 0;
        int operation = mode & ~FALLOC_FL_KEEP_SIZE;
        if (operation is not (0 or FALLOC_FL_PUNCH_HOLE or FALLOC_FL_ZERO_RANGE))
        {
            return -Errno.EOPNOTSUPP;
        }

        if (ReadOnly)
        {
            return -Errno.EROFS;
        }

        long size = file.Disk.Length;
        long end = offset + length;
        if (end > size && !keepSize)
        {
            return -Errno.EFBIG;
        }

        if (operation == 0)
        {
            return -Errno.EOPNOTSUPP;
        }

        end = Math.Min(end, size);
        if (end <= offset)
        {
            return 0;
        }

        try
        {
            file.Disk.WriteZeroes(offset, end - offset, mayUnmap: operation == FALLOC_FL_PUNCH_HOLE);
            Modified(file);
            return 0;
        }
        catch (Exception e)
        {
            return -ErrnoMap.ToErrno(e, operation == FALLOC_FL_PUNCH_HOLE ? "punch hole" : "zero range", file.Name, offset, Log);
        }
    }

    /// <summary>
    /// SEEK_DATA / SEEK_HOLE from the disk's block status: a run with the Zero flag is a hole, anything else data.
    /// The end of the disk is an implicit hole; an offset at or past it is ENXIO. Other whence values: EINVAL.
    /// </summary>
    public long Seek(ulong handle, long offset, int whence)
    {
        if (!TryGet(handle, out var file))
        {
            return -Errno.EBADF;
        }

        if (whence is not (SEEK_DATA or SEEK_HOLE) || offset < 0)
        {
            return -Errno.EINVAL;
        }

        var disk = file.Disk;
        long size = disk.Length;
        if (offset >= size)
        {
            return -Errno.ENXIO;
        }

        try
        {
            for (long position = offset; position < size;)
            {
                var status = disk.GetBlockStatus(position, size - position);
                bool hole = (status.Flags & BlockStatusFlags.Zero) != 0;
                if (hole == (whence == SEEK_HOLE))
                {
                    return position;
                }

                position += Math.Max(status.Length, 1);
            }

            return whence == SEEK_HOLE ? size : -Errno.ENXIO;
        }
        catch (Exception e)
        {
            return -ErrnoMap.ToErrno(e, "block status", file.Name, offset, Log);
        }
    }

    /// <summary>Resizing is refused (EPERM); "truncating" to the current size succeeds.</summary>
    public int Truncate(long node, long size)
    {
        long handle = Check(node);
        if (handle <= 0)
        {
            return handle == 0 ? -Errno.EISDIR : (int)handle;
        }

        if (ReadOnly)
        {
            return -Errno.EROFS;
        }

        return Files[(int)handle - 1].Disk.Length == size ? 0 : -Errno.EPERM;
    }

    /// <summary>statfs: the disks' total size as blocks, nothing free (a file system of fixed-size files).</summary>
    public (ulong Blocks, ulong Files, ulong NameMax) Capacity()
    {
        long total = Files.Sum(f => f.Disk.Length);
        return ((ulong)((total + 4095) / 4096), (ulong)Files.Count, FileNameMax);
    }

    /// <summary>A write changes the modification and change times (the page cache survives it: no AUTO_INVAL_DATA).</summary>
    private static void Modified(ImageFile file)
    {
        var now = DateTime.UtcNow;
        file.ModifiedUtc = now;
        file.ChangedUtc = now;
    }

    /// <summary>
    /// The host files that hold an image's clusters: the image file, and a qcow2 image's external data file (whose
    /// relative name is relative to the working directory, as the engine opened it).
    /// </summary>
    private static string[] HostFiles(ImageFile file) =>
        file.Disk is Qcow2Image { Header.ExternalDataFile: { Length: > 0 } dataFile }
            ? [file.SourcePath, Path.GetFullPath(dataFile)]
            : [file.SourcePath];

    /// <summary>
    /// What an image really takes: the allocated bytes of its host files (their st_blocks, what QEMU's FUSE export
    /// reports too), so du of a sparse image shows its use, not its virtual size. Backing files are not counted: they
    /// belong to other images. One stat per file per getattr (the kernel caches attributes for a second); the
    /// virtual size when no host file can be stat'ed.
    /// </summary>
    private long AllocatedBytes(int index)
    {
        long total = 0;
        bool any = false;
        foreach (string path in _hostFiles[index])
        {
            if (FileStatus.Get(path, followLinks: true, out var status) == 0)
            {
                total += status.AllocatedBytes;
                any = true;
            }
        }

        return any ? total : Files[index].Disk.Length;
    }

    /// <summary>The node itself when it names the root or a file; else −ENOENT (or the error it already is).</summary>
    private long Check(long node) => node < 0 || node <= Files.Count ? node : -Errno.ENOENT;

    private bool TryGet(ulong handle, out ImageFile file)
    {
        if (handle == NoHandle || handle > (ulong)Files.Count)
        {
            file = null!;
            return false;
        }

        file = Files[(int)handle - 1];
        return true;
    }

    private int IndexOf(ImageFile file)
    {
        for (int i = 0; i < Files.Count; i++)
        {
            if (ReferenceEquals(Files[i], file))
            {
                return i;
            }
        }

        return -1;
    }
}
