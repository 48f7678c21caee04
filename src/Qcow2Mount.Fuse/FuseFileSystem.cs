using Qcow2Mount.Core.Vfs;
using Qcow2Mount.Fuse.Interop;
using static Qcow2Mount.Fuse.Interop.LinuxConstants;

namespace Qcow2Mount.Fuse;

/// <summary>
/// An <see cref="IVirtualFileSystem"/> in FUSE's terms, free of native types: paths and node numbers, file handles,
/// O_* flags, FALLOC_FL_* modes and SEEK_DATA/SEEK_HOLE become the shared rules' typed requests, and what the rules
/// throw becomes −errno through <see cref="ErrnoMap"/> (the rules themselves live in the Vfs). Every method returns 0,
/// a byte count or an offset on success and −errno on failure; no exception leaves this class.
/// Nodes: 0 is the root, a file is its index plus one, which is also its handle (the kernel's node id is the node plus
/// one: the root is FUSE's node 1).
/// </summary>
internal sealed class FuseFileSystem
{
    /// <summary>Handle value for "no file": file handles are the index in <see cref="IVirtualFileSystem.Files"/> plus one.</summary>
    public const ulong NoHandle = 0;

    private readonly IVirtualFileSystem _vfs;

    public FuseFileSystem(IVirtualFileSystem fileSystem, Action<string> log)
    {
        _vfs = fileSystem;
        Log = log;
    }

    public Action<string> Log { get; }

    public IVirtualFileSystem Vfs => _vfs;

    /// <summary>Resolves "/" to node 0 (the root) or "/NAME" to the file's node; −ENOENT for anything else.</summary>
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

        return _vfs.Find(path[1..]) is { } file ? file.Index + 1 : -Errno.ENOENT;
    }

    /// <summary>Attributes of a node from <see cref="Resolve"/>; a negative node is returned as the error, an unknown one is −ENOENT.</summary>
    public int GetAttributes(long node, out NodeAttributes attributes)
    {
        attributes = default;
        if (!TryNode(node, out var vfsNode, out int error))
        {
            return error;
        }

        var info = _vfs.GetInfo(vfsNode);
        long allocated = vfsNode is RawFile file ? _vfs.AllocatedBytes(file) : 0;
        attributes = new NodeAttributes(
            (info.IsDirectory ? S_IFDIR : S_IFREG) | info.Permissions, info.IsDirectory ? 2u : 1u, info.Size, allocated,
            info.Times.Accessed, info.Times.Modified, info.Times.Changed, info.Id);
        return 0;
    }

    /// <summary>Sets the access and/or modification time of a node (touch, cp -p, rsync -t); null leaves one as it is; the change time becomes now.</summary>
    public int SetTimes(long node, DateTime? accessedUtc, DateTime? modifiedUtc)
    {
        if (!TryNode(node, out var vfsNode, out int error))
        {
            return error;
        }

        try
        {
            _vfs.SetTimes(vfsNode, new TimesUpdate(Accessed: accessedUtc, Modified: modifiedUtc, StampChange: true));
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e, "set times", vfsNode, 0);
        }
    }

    /// <summary>Names in the directory, in image order (without "." and "..").</summary>
    public int ListDirectory(long node, out IReadOnlyList<string> names)
    {
        names = [];
        if (!TryNode(node, out var vfsNode, out int error))
        {
            return error;
        }

        try
        {
            names = _vfs.List(vfsNode).Select(f => f.Name).ToArray();
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e, "list", vfsNode, 0);
        }
    }

    /// <summary>Opens a raw file; returns its handle (≥ 1) or −errno.</summary>
    public long Open(long node, int flags)
    {
        if (!TryNode(node, out var vfsNode, out int error))
        {
            return error;
        }

        try
        {
            _vfs.Open(vfsNode, new OpenRequest((flags & O_ACCMODE) != O_RDONLY, (flags & O_TRUNC) != 0, NodeKind.File));
            return node;
        }
        catch (Exception e)
        {
            return Fail(e, "open", vfsNode, 0);
        }
    }

    public int Read(ulong handle, Span<byte> buffer, long offset)
    {
        if (!TryGet(handle, out var file))
        {
            return -Errno.EBADF;
        }

        try
        {
            return _vfs.Read(file, buffer, offset);
        }
        catch (Exception e)
        {
            return Fail(e, "read", file, offset);
        }
    }

    /// <summary>Writes what fits before the end of the disk; a write starting at or past the end fails with ENOSPC.</summary>
    public int Write(ulong handle, ReadOnlySpan<byte> data, long offset)
    {
        if (!TryGet(handle, out var file))
        {
            return -Errno.EBADF;
        }

        try
        {
            return _vfs.Write(file, data, offset, WritePastEnd.WriteWhatFits);
        }
        catch (Exception e)
        {
            return Fail(e, "write", file, offset);
        }
    }

    /// <summary>fsync, and flush (close) of a descriptor that could write: everything written becomes durable.</summary>
    public int Flush(ulong handle)
    {
        if (!TryGet(handle, out var file))
        {
            return -Errno.EBADF;
        }

        try
        {
            _vfs.Flush(file);
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e, "flush", file, 0);
        }
    }

    /// <summary>
    /// fallocate: PUNCH_HOLE (always with KEEP_SIZE from the kernel), ZERO_RANGE (with or without KEEP_SIZE) and plain
    /// allocation (mode 0, or KEEP_SIZE alone) become <see cref="SpaceRequest"/>s; other modes are EOPNOTSUPP.
    /// </summary>
    public int Allocate(ulong handle, int mode, long offset, long length)
    {
        if (!TryGet(handle, out var file))
        {
            return -Errno.EBADF;
        }

        SpaceOperation? decoded = (mode & ~FALLOC_FL_KEEP_SIZE) switch
        {
            0 => SpaceOperation.Reserve,
            FALLOC_FL_ZERO_RANGE => SpaceOperation.Zero,
            FALLOC_FL_PUNCH_HOLE => SpaceOperation.PunchHole,
            _ => null,
        };
        if (decoded is not { } space)
        {
            return -Errno.EOPNOTSUPP; // collapse, insert, unshare: no such request on a fixed-size disk
        }

        try
        {
            _vfs.Allocate(file, new SpaceRequest(space, offset, length, (mode & FALLOC_FL_KEEP_SIZE) != 0));
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e, space == SpaceOperation.PunchHole ? "punch hole" : "zero range", file, offset);
        }
    }

    /// <summary>SEEK_DATA / SEEK_HOLE; none found (also at or past the end) is ENXIO. Other whence values: EINVAL.</summary>
    public long Seek(ulong handle, long offset, int whence)
    {
        if (!TryGet(handle, out var file))
        {
            return -Errno.EBADF;
        }

        if (whence is not (SEEK_DATA or SEEK_HOLE))
        {
            return -Errno.EINVAL;
        }

        try
        {
            return _vfs.Seek(file, offset, whence == SEEK_HOLE ? SeekTarget.Hole : SeekTarget.Data) ?? -Errno.ENXIO;
        }
        catch (Exception e)
        {
            return Fail(e, "block status", file, offset);
        }
    }

    /// <summary>Resizing is refused (EPERM); "truncating" to the current size succeeds.</summary>
    public int Truncate(long node, long size)
    {
        if (!TryNode(node, out var vfsNode, out int error))
        {
            return error;
        }

        try
        {
            _vfs.SetSize(vfsNode, size);
            return 0;
        }
        catch (Exception e)
        {
            return Fail(e, "truncate", vfsNode, size);
        }
    }

    /// <summary>mknod, mkdir, unlink, rename, chmod, …: the names and attributes are fixed (EPERM, or EROFS).</summary>
    public int RefuseChange(ChangeKind change) => Fail(_vfs.RefusalOf(change), change.ToString(), _vfs.Root, 0);

    /// <summary>statfs: the disks' total size in <see cref="VolumeCapacity.BlockSize"/> blocks, nothing free.</summary>
    public (ulong Blocks, ulong Files, ulong NameMax) Capacity()
    {
        var capacity = _vfs.Capacity;
        return ((ulong)(capacity.TotalBytes / VolumeCapacity.BlockSize), (ulong)capacity.FileCount, (ulong)capacity.MaxNameLength);
    }

    private int Fail(Exception error, string operation, VfsNode node, long offset) =>
        -ErrnoMap.ToErrno(error, operation, node.Name.Length == 0 ? "/" : node.Name, offset, Log);

    /// <summary>The node a node number names: false with −ENOENT for an unknown one, or the error a negative one already is.</summary>
    private bool TryNode(long node, out VfsNode vfsNode, out int error)
    {
        if (node == 0)
        {
            vfsNode = _vfs.Root;
            error = 0;
            return true;
        }

        if (node > 0 && node <= _vfs.Files.Count)
        {
            vfsNode = _vfs.Files[(int)node - 1];
            error = 0;
            return true;
        }

        vfsNode = null!;
        error = node < 0 ? (int)node : -Errno.ENOENT;
        return false;
    }

    private bool TryGet(ulong handle, out RawFile file)
    {
        if (handle == NoHandle || handle > (ulong)_vfs.Files.Count)
        {
            file = null!;
            return false;
        }

        file = _vfs.Files[(int)handle - 1];
        return true;
    }
}
