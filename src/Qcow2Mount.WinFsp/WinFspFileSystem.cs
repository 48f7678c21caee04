using System.Collections.Concurrent;
using Qcow2Mount.WinFsp.Interop;
using static Qcow2Mount.WinFsp.Interop.WinFspConstants;

namespace Qcow2Mount.WinFsp;

/// <summary>
/// The bodies of the WinFsp callbacks, free of the native calling convention: a root directory holding one
/// fixed-size raw file per image. Every method returns an NTSTATUS; the rules are those of the FUSE shim in Windows
/// terms: reads at or past the end are STATUS_END_OF_FILE and reads across it are clipped; a write that would grow a
/// file is STATUS_DISK_FULL (paging writes, which must not grow a file, are clipped); size changes are refused; a
/// read-only mount refuses every change with STATUS_MEDIA_WRITE_PROTECTED (WinFsp's read-only flag alone does not).
/// Exceptions from the engine are mapped by <see cref="NtStatusMap"/> in <see cref="WinFspCallbacks"/>.
/// FileContext values are keys of an open table (never 0, which WinFsp uses for "the volume").
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The stop event is never disposed: a waiter may still hold it when the host is torn down.")]
internal sealed unsafe class WinFspFileSystem
{
    public const string VolumeLabel = "Qcow2Mount";

    /// <summary>Allocation unit reported in FILE_INFO (the volume's SectorSize × SectorsPerAllocationUnit).</summary>
    public const int AllocationUnit = 4096;

    private const int MaxNameChars = 255;

    private readonly ImageVolume _volume;
    private readonly IWinFspApi _api;
    private readonly ConcurrentDictionary<nint, OpenFile> _open = new();
    private readonly long _mountedTime = DateTime.UtcNow.ToFileTimeUtc();
    private readonly ManualResetEventSlim _stopped = new();
    private long _nextContext;

    public WinFspFileSystem(ImageVolume volume, IWinFspApi api, bool readOnly, Action<string> log)
    {
        _volume = volume;
        _api = api;
        ReadOnly = readOnly || volume.AnyReadOnly;
        Log = log;
    }

    /// <summary>True when the mount refuses every change; also true when any disk was opened read-only.</summary>
    public bool ReadOnly { get; }

    public Action<string> Log { get; }

    /// <summary>Number of opens not yet closed.</summary>
    public int OpenCount => _open.Count;

    /// <summary>Set when WinFsp's dispatcher stopped (after StopDispatcher, or on its own, e.g. driver unload).</summary>
    public WaitHandle Stopped => _stopped.WaitHandle;

    public ImageVolume Volume => _volume;

    public int GetVolumeInfo(out VolumeInfo info)
    {
        info = default;
        info.TotalSize = (ulong)_volume.Files.Sum(f => RoundUp(f.Length));
        info.FreeSize = 0;
        info.SetLabel(VolumeLabel);
        return NtStatus.Success;
    }

    public int SetVolumeLabel() => ReadOnly ? NtStatus.MediaWriteProtected : NtStatus.AccessDenied;

    /// <summary>Attributes and security of a path, for WinFsp's access check before Open.</summary>
    public int GetSecurityByName(string name, out uint attributes)
    {
        attributes = 0;
        int status = Lookup(name, out var file);
        if (status == NtStatus.Success)
        {
            attributes = Attributes(file);
        }

        return status;
    }

    /// <summary>
    /// Copies the descriptor to <paramref name="descriptor"/> when <paramref name="size"/> is large enough, else returns
    /// STATUS_BUFFER_OVERFLOW; <paramref name="size"/> always receives the needed size. Both pointers may be null.
    /// </summary>
    public static int CopySecurity(void* descriptor, nuint* size)
    {
        var bytes = SecurityDescriptor.Bytes;
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
        if (ReadOnly)
        {
            return NtStatus.MediaWriteProtected;
        }

        int status = Lookup(name, out _);
        return status == NtStatus.Success ? NtStatus.ObjectNameCollision : NtStatus.AccessDenied;
    }

    public int Open(string name, uint createOptions, uint grantedAccess, out nint context, out FspFileInfo info)
    {
        context = 0;
        info = default;
        int status = Lookup(name, out var file);
        if (status != NtStatus.Success)
        {
            return status;
        }

        if (file is null && (createOptions & FileNonDirectoryFile) != 0)
        {
            return NtStatus.FileIsADirectory;
        }

        if (file is not null && (createOptions & FileDirectoryFile) != 0)
        {
            return NtStatus.NotADirectory;
        }

        if (file is not null && ReadOnly && (grantedAccess & (FileWriteData | FileAppendData)) != 0)
        {
            return NtStatus.MediaWriteProtected;
        }

        context = (nint)Interlocked.Increment(ref _nextContext);
        _open[context] = new OpenFile(file);
        info = Info(file);
        return NtStatus.Success;
    }

    /// <summary>Overwrite/supersede of an existing file would truncate the disk: refused unless it is empty.</summary>
    public int Overwrite(nint context, out FspFileInfo info)
    {
        info = default;
        if (!TryGet(context, out var open))
        {
            return NtStatus.InvalidHandle;
        }

        if (ReadOnly)
        {
            return NtStatus.MediaWriteProtected;
        }

        if (open.File is not { Length: 0 })
        {
            return NtStatus.AccessDenied;
        }

        info = Info(open.File);
        return NtStatus.Success;
    }

    /// <summary>Last handle of an open closed: sets the times the flags ask for, and flushes what this open wrote.</summary>
    public void Cleanup(nint context, uint flags)
    {
        if (!TryGet(context, out var open) || open.File is not { } file)
        {
            return;
        }

        long now = DateTime.UtcNow.ToFileTimeUtc();
        if ((flags & CleanupSetLastAccessTime) != 0)
        {
            file.LastAccessTime = now;
        }

        if ((flags & CleanupSetLastWriteTime) != 0)
        {
            file.LastWriteTime = now;
        }

        if ((flags & CleanupSetChangeTime) != 0)
        {
            file.ChangeTime = now;
        }

        if (open.Written && !ReadOnly)
        {
            try
            {
                file.Flush();
            }
            catch (Exception e)
            {
                // Cleanup cannot fail; the error is logged like an I/O error (and a later Flush reports it).
                Log($"{file.Name}: flush on cleanup failed: {e.Message}");
            }
        }
    }

    public void Close(nint context) => _open.TryRemove(context, out _);

    public int Read(nint context, Span<byte> buffer, ulong offset, out uint transferred)
    {
        transferred = 0;
        if (!TryGet(context, out var open))
        {
            return NtStatus.InvalidHandle;
        }

        if (open.File is not { } file)
        {
            return NtStatus.InvalidDeviceRequest;
        }

        long size = file.Length;
        if (offset >= (ulong)size)
        {
            return NtStatus.EndOfFile;
        }

        int count = (int)Math.Min((ulong)buffer.Length, (ulong)size - offset);
        file.Read((long)offset, buffer[..count]);
        transferred = (uint)count;
        return NtStatus.Success;
    }

    /// <summary>
    /// <paramref name="constrainedIo"/> (paging I/O) must not grow the file: what lies past the end is dropped.
    /// Any other write that would end past the end (appends included) is STATUS_DISK_FULL and writes nothing.
    /// </summary>
    public int Write(nint context, ReadOnlySpan<byte> data, ulong offset, bool writeToEndOfFile, bool constrainedIo, out uint transferred, out FspFileInfo info)
    {
        transferred = 0;
        info = default;
        int status = ChangeableFile(context, out var open);
        if (status != NtStatus.Success)
        {
            return status;
        }

        var file = open.File!;
        ulong size = (ulong)file.Length;
        if (writeToEndOfFile)
        {
            offset = size;
        }

        int count = data.Length;
        if (constrainedIo)
        {
            count = offset >= size ? 0 : (int)Math.Min((ulong)count, size - offset);
        }
        else if (count > 0 && (offset >= size || (ulong)count > size - offset))
        {
            return NtStatus.DiskFull;
        }

        if (count > 0)
        {
            file.Write((long)offset, data[..count]);
            open.MarkWritten();
            long now = DateTime.UtcNow.ToFileTimeUtc();
            file.LastWriteTime = now;
            file.ChangeTime = now;
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
            if (!ReadOnly)
            {
                _volume.FlushAll();
            }

            return NtStatus.Success;
        }

        if (!TryGet(context, out var open))
        {
            return NtStatus.InvalidHandle;
        }

        if (open.File is { } file && !ReadOnly)
        {
            file.Flush();
        }

        info = Info(open.File);
        return NtStatus.Success;
    }

    public int GetFileInfo(nint context, out FspFileInfo info)
    {
        info = default;
        if (!TryGet(context, out var open))
        {
            return NtStatus.InvalidHandle;
        }

        info = Info(open.File);
        return NtStatus.Success;
    }

    /// <summary>Sets the times that are not 0; attributes are the volume's own (the request's are ignored).</summary>
    public int SetBasicInfo(nint context, ulong creationTime, ulong lastAccessTime, ulong lastWriteTime, ulong changeTime, out FspFileInfo info)
    {
        info = default;
        if (!TryGet(context, out var open))
        {
            return NtStatus.InvalidHandle;
        }

        if (ReadOnly)
        {
            return NtStatus.MediaWriteProtected;
        }

        if (open.File is { } file)
        {
            if (creationTime != 0)
            {
                file.CreationTime = (long)creationTime;
            }

            if (lastAccessTime != 0)
            {
                file.LastAccessTime = (long)lastAccessTime;
            }

            if (lastWriteTime != 0)
            {
                file.LastWriteTime = (long)lastWriteTime;
            }

            if (changeTime != 0)
            {
                file.ChangeTime = (long)changeTime;
            }
        }

        info = Info(open.File);
        return NtStatus.Success;
    }

    /// <summary>
    /// The size is fixed: setting it to itself succeeds, growing is STATUS_DISK_FULL, shrinking STATUS_ACCESS_DENIED.
    /// Allocation-size requests succeed without effect (the allocation follows the size).
    /// </summary>
    public int SetFileSize(nint context, ulong newSize, bool setAllocationSize, out FspFileInfo info)
    {
        info = default;
        int status = ChangeableFile(context, out var open);
        if (status != NtStatus.Success)
        {
            return status;
        }

        var file = open.File!;
        ulong size = (ulong)file.Length;
        if (!setAllocationSize && newSize != size)
        {
            return newSize > size ? NtStatus.DiskFull : NtStatus.AccessDenied;
        }

        info = Info(file);
        return NtStatus.Success;
    }

    /// <summary>Deleting (SetDelete with true, CanDelete) is refused; clearing the delete disposition succeeds.</summary>
    public int SetDelete(nint context, bool deleteFile)
    {
        if (!TryGet(context, out _))
        {
            return NtStatus.InvalidHandle;
        }

        if (!deleteFile)
        {
            return NtStatus.Success;
        }

        return ReadOnly ? NtStatus.MediaWriteProtected : NtStatus.CannotDelete;
    }

    /// <summary>Rename, SetSecurity: the volume's names and descriptor are fixed.</summary>
    public int RefuseChange(nint context) =>
        !TryGet(context, out _) ? NtStatus.InvalidHandle : ReadOnly ? NtStatus.MediaWriteProtected : NtStatus.AccessDenied;

    public int GetSecurity(nint context) => TryGet(context, out _) ? NtStatus.Success : NtStatus.InvalidHandle;

    /// <summary>
    /// Lists the root in <see cref="ImageVolume.Listing"/> order, starting after <paramref name="marker"/> (null = from
    /// the start), through <see cref="IWinFspApi.AddDirInfo"/>; a full buffer ends the batch without the end marker.
    /// The root has no "." and ".." entries. The pattern is left to WinFsp, which filters anyway.
    /// </summary>
    public int ReadDirectory(nint context, string? marker, nint buffer, uint length, out uint transferred)
    {
        transferred = 0;
        if (!TryGet(context, out var open))
        {
            return NtStatus.InvalidHandle;
        }

        if (!open.IsDirectory)
        {
            return NtStatus.NotADirectory;
        }

        byte* entry = stackalloc byte[DirInfo.HeaderSize + (MaxNameChars * sizeof(char))];
        foreach (var file in _volume.Listing)
        {
            if (marker is not null && StringComparer.OrdinalIgnoreCase.Compare(file.Name, marker) <= 0)
            {
                continue;
            }

            var dirInfo = (DirInfo*)entry;
            *dirInfo = default;
            int nameBytes = Math.Min(file.Name.Length, MaxNameChars) * sizeof(char);
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

    /// <summary>The file of an open, for error messages ("" for the root or an unknown context).</summary>
    public string NameOf(nint context) => TryGet(context, out var open) ? open.File?.Name ?? "\\" : string.Empty;

    /// <summary>"\" is the root (file null); "\NAME" one of the files, ignoring case; anything else is not found.</summary>
    private int Lookup(string name, out VolumeFile? file)
    {
        file = null;
        if (name == "\\")
        {
            return NtStatus.Success;
        }

        if (name.Length < 2 || name[0] != '\\')
        {
            return NtStatus.ObjectNameInvalid;
        }

        int slash = name.IndexOf('\\', 1);
        if (slash >= 0)
        {
            return NtStatus.ObjectPathNotFound;
        }

        file = _volume.Find(name[1..]);
        return file is null ? NtStatus.ObjectNameNotFound : NtStatus.Success;
    }

    /// <summary>The open of a raw file whose data may change: INVALID_HANDLE, INVALID_DEVICE_REQUEST (the root) or MEDIA_WRITE_PROTECTED otherwise.</summary>
    private int ChangeableFile(nint context, out OpenFile open)
    {
        if (!TryGet(context, out open))
        {
            return NtStatus.InvalidHandle;
        }

        if (open.IsDirectory)
        {
            return NtStatus.InvalidDeviceRequest;
        }

        return ReadOnly ? NtStatus.MediaWriteProtected : NtStatus.Success;
    }

    private bool TryGet(nint context, out OpenFile open) => _open.TryGetValue(context, out open!);

    private uint Attributes(VolumeFile? file) =>
        file is null ? FileAttributeDirectory : ReadOnly ? FileAttributeReadOnly : FileAttributeNormal;

    private FspFileInfo Info(VolumeFile? file)
    {
        var info = new FspFileInfo { FileAttributes = Attributes(file) };
        if (file is null)
        {
            info.CreationTime = info.LastAccessTime = info.LastWriteTime = info.ChangeTime = (ulong)_mountedTime;
            info.IndexNumber = 1;
            return info;
        }

        info.FileSize = (ulong)file.Length;
        info.AllocationSize = (ulong)RoundUp(file.Length);
        info.CreationTime = (ulong)file.CreationTime;
        info.LastAccessTime = (ulong)file.LastAccessTime;
        info.LastWriteTime = (ulong)file.LastWriteTime;
        info.ChangeTime = (ulong)file.ChangeTime;
        info.IndexNumber = (ulong)file.Index + 2;
        return info;
    }

    private static long RoundUp(long size) => (size + AllocationUnit - 1) / AllocationUnit * AllocationUnit;
}
