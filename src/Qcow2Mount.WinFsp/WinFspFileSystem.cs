using System.Collections.Concurrent;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.WinFsp.Interop;
using static Qcow2Mount.WinFsp.Interop.WinFspConstants;

namespace Qcow2Mount.WinFsp;

/// <summary>
/// The bodies of the WinFsp callbacks, free of the native calling convention: an <see cref="IVirtualFileSystem"/> in
/// Windows terms. It decodes names, FileContexts, create options, access masks and cleanup flags into the shared
/// rules' requests and encodes their results as FILE_INFO; the rules themselves (fixed size, clipping, read-only,
/// times) live in the Vfs, and what they throw becomes an NTSTATUS through <see cref="NtStatusMap"/> in
/// <see cref="WinFspCallbacks"/>. Windows' own choices are the Vfs's typed parameters: a write crossing the end is
/// refused whole (STATUS_DISK_FULL) and a paging write (ConstrainedIo) is cut at the end; ChangeTime is the caller's.
/// FileContext values are keys of an open table (never 0, which WinFsp uses for "the volume").
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The stop event is never disposed: a waiter may still hold it when the host is torn down.")]
internal sealed unsafe class WinFspFileSystem
{
    public const string VolumeLabel = "Qcow2Mount";

    /// <summary>Allocation unit reported in FILE_INFO (the volume's SectorSize × SectorsPerAllocationUnit).</summary>
    public const int AllocationUnit = VolumeCapacity.BlockSize;

    /// <summary>The largest FILETIME .NET can hold; larger values (-1: "stop updating this time") leave a time as it is.</summary>
    private static readonly ulong MaxFileTime = (ulong)DateTime.MaxValue.ToFileTimeUtc();

    private readonly IVirtualFileSystem _vfs;
    private readonly IWinFspApi _api;
    private readonly ConcurrentDictionary<nint, OpenFile> _open = new();
    private readonly ManualResetEventSlim _stopped = new();
    private long _nextContext;

    /// <exception cref="ArgumentException"><paramref name="fileSystem"/> compares names with case: Windows could not tell some apart.</exception>
    /// <param name="security">What every node reports; null = the user this process runs as (Windows only).</param>
    public WinFspFileSystem(IVirtualFileSystem fileSystem, IWinFspApi api, Action<string> log, SecurityDescriptor? security = null)
    {
        if (fileSystem.CaseSensitiveNames)
        {
            throw new ArgumentException("a WinFsp volume needs names compared ignoring case (ImageDirectory with caseSensitiveNames: false)", nameof(fileSystem));
        }

        _vfs = fileSystem;
        _api = api;
        Security = security ?? SecurityDescriptor.ForCurrentUser();
        Log = log;
        Listing = [.. fileSystem.Files.OrderBy(f => f.Name, StringComparer.OrdinalIgnoreCase)];
    }

    /// <summary>True when the mount refuses every change.</summary>
    public bool ReadOnly => _vfs.IsReadOnly;

    public Action<string> Log { get; }

    /// <summary>Number of opens not yet closed.</summary>
    public int OpenCount => _open.Count;

    /// <summary>Set when WinFsp's dispatcher stopped (after StopDispatcher, or on its own, e.g. driver unload).</summary>
    public WaitHandle Stopped => _stopped.WaitHandle;

    public IVirtualFileSystem Vfs => _vfs;

    /// <summary>The descriptor every node reports.</summary>
    public SecurityDescriptor Security { get; }

    /// <summary>The files in directory order: names ascending, ignoring case (ReadDirectory's marker relies on it).</summary>
    public IReadOnlyList<RawFile> Listing { get; }

    public int GetVolumeInfo(out VolumeInfo info)
    {
        info = default;
        info.TotalSize = (ulong)_vfs.Capacity.TotalBytes;
        info.FreeSize = 0;
        info.SetLabel(VolumeLabel);
        return NtStatus.Success;
    }

    public int SetVolumeLabel() => throw _vfs.RefusalOf(ChangeKind.VolumeLabel);

    /// <summary>Attributes and security of a path, for WinFsp's access check before Open.</summary>
    public int GetSecurityByName(string name, out uint attributes)
    {
        attributes = 0;
        int status = Lookup(name, out var node);
        if (status == NtStatus.Success)
        {
            attributes = Attributes(_vfs.GetInfo(node!));
        }

        return status;
    }

    /// <summary>
    /// Copies the descriptor to <paramref name="descriptor"/> when <paramref name="size"/> is large enough, else returns
    /// STATUS_BUFFER_OVERFLOW; <paramref name="size"/> always receives the needed size. Both pointers may be null.
    /// </summary>
    public int CopySecurity(void* descriptor, nuint* size)
    {
        var bytes = Security.Bytes;
        if (size is null)
        {
            return NtStatus.Success;
        }

        bool fits = *size >= (nuint)bytes.Length;
        *size = (nuint)bytes.Length;
        if (!fits)
        {
            return NtStatus.BufferOverflow;
        }

        if (descriptor is not null)
        {
            bytes.CopyTo(new Span<byte>(descriptor, bytes.Length));
        }

        return NtStatus.Success;
    }

    /// <summary>Creating a file: the volume holds only its images.</summary>
    public int Create(string name)
    {
        bool exists = Lookup(name, out var node) == NtStatus.Success;
        throw _vfs.RefusalOf(ChangeKind.Create, exists ? node : null);
    }

    public int Open(string name, uint createOptions, uint grantedAccess, out nint context, out FspFileInfo info)
    {
        context = 0;
        info = default;
        int status = Lookup(name, out var node);
        if (status != NtStatus.Success)
        {
            return status;
        }

        var expect = (createOptions & FileDirectoryFile) != 0 ? NodeKind.Directory
            : (createOptions & FileNonDirectoryFile) != 0 ? NodeKind.File
            : NodeKind.Any;
        _vfs.Open(node!, new OpenRequest((grantedAccess & (FileWriteData | FileAppendData)) != 0, Expect: expect));
        context = (nint)Interlocked.Increment(ref _nextContext);
        _open[context] = new OpenFile(node!);
        info = Info(node!);
        return NtStatus.Success;
    }

    /// <summary>Overwrite/supersede of an existing file truncates it: the size rule refuses it unless the file is empty.</summary>
    public int Overwrite(nint context, out FspFileInfo info)
    {
        info = default;
        if (!TryGet(context, out var open))
        {
            return NtStatus.InvalidHandle;
        }

        _vfs.SetSize(open.Node, 0);
        info = Info(open.Node);
        return NtStatus.Success;
    }

    /// <summary>Last handle of an open closed: sets the times the flags ask for, and flushes what this open wrote.</summary>
    public void Cleanup(nint context, uint flags)
    {
        if (!TryGet(context, out var open) || open.File is not { } file)
        {
            return;
        }

        var touched = ((flags & CleanupSetLastAccessTime) != 0 ? TimeFields.Accessed : TimeFields.None)
            | ((flags & CleanupSetLastWriteTime) != 0 ? TimeFields.Modified : TimeFields.None)
            | ((flags & CleanupSetChangeTime) != 0 ? TimeFields.Changed : TimeFields.None);
        _vfs.Touch(file, touched);
        if (open.Written)
        {
            try
            {
                _vfs.Flush(file);
            }
            catch (Exception e)
            {
                // Cleanup cannot fail; the error is logged like an I/O error (and a later Flush reports it).
                Log($"{file.Name}: flush on cleanup failed: {e.Message}");
            }
        }
    }

    public void Close(nint context) => _open.TryRemove(context, out _);

    /// <summary>Reads at or past the end are STATUS_END_OF_FILE; a read across the end is clipped.</summary>
    public int Read(nint context, Span<byte> buffer, ulong offset, out uint transferred)
    {
        transferred = 0;
        int status = DataFile(context, out _, out var file);
        if (status != NtStatus.Success)
        {
            return status;
        }

        int count = _vfs.Read(file, buffer, Offset(offset));
        if (count == 0 && !buffer.IsEmpty)
        {
            return NtStatus.EndOfFile;
        }

        transferred = (uint)count;
        return NtStatus.Success;
    }

    /// <summary>
    /// <paramref name="constrainedIo"/> (paging I/O) must not grow the file: what lies past the end is dropped. Any other
    /// write that would end past the end (appends included) is refused whole.
    /// </summary>
    public int Write(nint context, ReadOnlySpan<byte> data, ulong offset, bool writeToEndOfFile, bool constrainedIo, out uint transferred, out FspFileInfo info)
    {
        transferred = 0;
        info = default;
        int status = DataFile(context, out var open, out var file);
        if (status != NtStatus.Success)
        {
            return status;
        }

        long at = writeToEndOfFile ? file.Size : Offset(offset);
        int count = _vfs.Write(file, data, at, constrainedIo ? WritePastEnd.Drop : WritePastEnd.Refuse);
        if (count > 0)
        {
            open.MarkWritten();
        }

        transferred = (uint)count;
        info = Info(file);
        return NtStatus.Success;
    }

    /// <summary>FlushFileBuffers on a file, or on the volume (context 0): everything written becomes durable.</summary>
    public int Flush(nint context, out FspFileInfo info)
    {
        info = default;
        if (context == 0)
        {
            _vfs.FlushAll();
            return NtStatus.Success;
        }

        if (!TryGet(context, out var open))
        {
            return NtStatus.InvalidHandle;
        }

        if (open.File is { } file)
        {
            _vfs.Flush(file);
        }

        info = Info(open.Node);
        return NtStatus.Success;
    }

    public int GetFileInfo(nint context, out FspFileInfo info)
    {
        info = default;
        if (!TryGet(context, out var open))
        {
            return NtStatus.InvalidHandle;
        }

        info = Info(open.Node);
        return NtStatus.Success;
    }

    /// <summary>Sets the times that are not 0; ChangeTime only when given. Attributes are the volume's own (the request's are ignored).</summary>
    public int SetBasicInfo(nint context, ulong creationTime, ulong lastAccessTime, ulong lastWriteTime, ulong changeTime, out FspFileInfo info)
    {
        info = default;
        if (!TryGet(context, out var open))
        {
            return NtStatus.InvalidHandle;
        }

        _vfs.SetTimes(open.Node, new TimesUpdate(Time(creationTime), Time(lastAccessTime), Time(lastWriteTime), Time(changeTime)));
        info = Info(open.Node);
        return NtStatus.Success;
    }

    /// <summary>The size is fixed (only its own size succeeds); an allocation size succeeds unless it would cut the file.</summary>
    public int SetFileSize(nint context, ulong newSize, bool setAllocationSize, out FspFileInfo info)
    {
        info = default;
        int status = DataFile(context, out _, out var file);
        if (status != NtStatus.Success)
        {
            return status;
        }

        long size = Offset(newSize);
        if (setAllocationSize)
        {
            _vfs.SetAllocationSize(file, size);
        }
        else
        {
            _vfs.SetSize(file, size);
        }

        info = Info(file);
        return NtStatus.Success;
    }

    /// <summary>Deleting (SetDelete with true, CanDelete) is refused; clearing the delete disposition succeeds.</summary>
    public int SetDelete(nint context, bool deleteFile)
    {
        if (!TryGet(context, out var open))
        {
            return NtStatus.InvalidHandle;
        }

        return deleteFile ? throw _vfs.RefusalOf(ChangeKind.Delete, open.Node) : NtStatus.Success;
    }

    /// <summary>Rename, SetSecurity: the volume's names and descriptor are fixed.</summary>
    public int RefuseChange(nint context, ChangeKind change) =>
        TryGet(context, out var open) ? throw _vfs.RefusalOf(change, open.Node) : NtStatus.InvalidHandle;

    public int GetSecurity(nint context) => TryGet(context, out _) ? NtStatus.Success : NtStatus.InvalidHandle;

    /// <summary>
    /// Lists the root in <see cref="Listing"/> order, starting after <paramref name="marker"/> (null = from the start),
    /// through <see cref="IWinFspApi.AddDirInfo"/>; a full buffer ends the batch without the end marker. The root has
    /// no "." and ".." entries. The pattern is left to WinFsp, which filters anyway.
    /// </summary>
    public int ReadDirectory(nint context, string? marker, nint buffer, uint length, out uint transferred)
    {
        transferred = 0;
        if (!TryGet(context, out var open))
        {
            return NtStatus.InvalidHandle;
        }

        _ = _vfs.List(open.Node);
        byte* entry = stackalloc byte[DirInfo.HeaderSize + (VolumeCapacity.NameMax * sizeof(char))];
        foreach (var file in Listing)
        {
            if (marker is not null && StringComparer.OrdinalIgnoreCase.Compare(file.Name, marker) <= 0)
            {
                continue;
            }

            var dirInfo = (DirInfo*)entry;
            *dirInfo = default;
            int nameBytes = Math.Min(file.Name.Length, VolumeCapacity.NameMax) * sizeof(char);
            dirInfo->Size = (ushort)(DirInfo.HeaderSize + nameBytes);
            dirInfo->FileInfo = Info(file);
            file.Name.AsSpan(0, nameBytes / sizeof(char)).CopyTo(new Span<char>(entry + DirInfo.HeaderSize, nameBytes / sizeof(char)));
            if (!_api.AddDirInfo((nint)entry, buffer, length, ref transferred))
            {
                return NtStatus.Success;
            }
        }

        _api.AddDirInfo(0, buffer, length, ref transferred);
        return NtStatus.Success;
    }

    public void DispatcherStopped(bool normally)
    {
        if (!normally)
        {
            Log("WinFsp stopped the file system (driver unloaded or the volume was removed)");
        }

        _stopped.Set();
    }

    /// <summary>The file of an open, for error messages ("\" for the root, "" for an unknown context).</summary>
    public string NameOf(nint context) => TryGet(context, out var open) ? open.File?.Name ?? "\\" : string.Empty;

    /// <summary>A WinFsp offset or size as the rules take it: beyond <see cref="long.MaxValue"/> is past any end anyway.</summary>
    private static long Offset(ulong value) => (long)Math.Min(value, long.MaxValue);

    private static DateTime? Time(ulong fileTime) => fileTime == 0 || fileTime > MaxFileTime ? null : DateTime.FromFileTimeUtc((long)fileTime);

    private static ulong FileTime(DateTime utc) => utc.Year < 1601 ? 0 : (ulong)utc.ToFileTimeUtc();

    /// <summary>"\" is the root; "\NAME" one of the files (the Vfs compares ignoring case); anything else is not found.</summary>
    private int Lookup(string name, out VfsNode? node)
    {
        node = null;
        if (name == "\\")
        {
            node = _vfs.Root;
            return NtStatus.Success;
        }

        if (name.Length < 2 || name[0] != '\\')
        {
            return NtStatus.ObjectNameInvalid;
        }

        if (name.IndexOf('\\', 1) >= 0)
        {
            return NtStatus.ObjectPathNotFound;
        }

        node = _vfs.Find(name[1..]);
        return node is null ? NtStatus.ObjectNameNotFound : NtStatus.Success;
    }

    /// <summary>The raw file of an open for a data request: INVALID_HANDLE, or INVALID_DEVICE_REQUEST for the root.</summary>
    private int DataFile(nint context, out OpenFile open, out RawFile file)
    {
        file = null!;
        if (!TryGet(context, out open))
        {
            return NtStatus.InvalidHandle;
        }

        if (open.File is null)
        {
            return NtStatus.InvalidDeviceRequest;
        }

        file = open.File;
        return NtStatus.Success;
    }

    private bool TryGet(nint context, out OpenFile open) => _open.TryGetValue(context, out open!);

    private static uint Attributes(in NodeInfo info) =>
        info.IsDirectory ? FileAttributeDirectory : info.IsReadOnly ? FileAttributeReadOnly : FileAttributeNormal;

    private FspFileInfo Info(VfsNode node)
    {
        var info = _vfs.GetInfo(node);
        return new FspFileInfo
        {
            FileAttributes = Attributes(info),
            FileSize = (ulong)info.Size,
            AllocationSize = (ulong)VolumeCapacity.RoundUp(info.Size),
            CreationTime = FileTime(info.Times.Created),
            LastAccessTime = FileTime(info.Times.Accessed),
            LastWriteTime = FileTime(info.Times.Modified),
            ChangeTime = FileTime(info.Times.Changed),
            IndexNumber = info.Id,
        };
    }
}
