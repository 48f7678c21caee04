using System.Runtime.InteropServices;
using Qcow2Mount.WinFsp.Interop;

namespace Qcow2Mount.WinFsp.Tests.Support;

/// <summary>
/// WinFsp's DLL as far as the host sees it, in memory: Create allocates a zeroed 792-byte FSP_FILE_SYSTEM and keeps
/// the volume parameters and interface table it was given (so tests can call the callbacks through the real table);
/// every call is appended to <see cref="Calls"/>; AddDirInfo packs entries at 8-byte alignment as winfsp.h describes.
/// </summary>
internal sealed unsafe class FakeWinFspApi : IWinFspApi, IDisposable
{
    private readonly List<string> _calls;

    public FakeWinFspApi(List<string>? sharedLog = null) => _calls = sharedLog ?? [];

    public IReadOnlyList<string> Calls => _calls;

    public int CreateStatus { get; set; }

    public int SetMountPointStatus { get; set; }

    public int StartDispatcherStatus { get; set; }

    public string? AssignedMountPoint { get; set; } = "Q:";

    public nint FileSystem { get; private set; }

    public FileSystemInterface* Interface { get; private set; }

    public VolumeParams Params { get; private set; }

    public string? DevicePath { get; private set; }

    public int Version(out uint version)
    {
        Record("FspVersion");
        version = (2u << 16) | 1;
        return 0;
    }

    public int Create(string devicePath, nint volumeParams, nint fileSystemInterface, out nint fileSystem)
    {
        Record("Create");
        DevicePath = devicePath;
        Params = *(VolumeParams*)volumeParams;
        Interface = (FileSystemInterface*)fileSystemInterface;
        fileSystem = 0;
        if (CreateStatus != 0)
        {
            return CreateStatus;
        }

        FileSystem = (nint)NativeMemory.AllocZeroed(FileSystemHeader.Size64);
        fileSystem = FileSystem;
        return 0;
    }

    public int SetMountPoint(nint fileSystem, string? mountPoint)
    {
        Record($"SetMountPoint({mountPoint ?? "null"})");
        return SetMountPointStatus;
    }

    public string? MountPoint(nint fileSystem) => AssignedMountPoint;

    public int StartDispatcher(nint fileSystem, uint threadCount)
    {
        Record("StartDispatcher");
        return StartDispatcherStatus;
    }

    public void StopDispatcher(nint fileSystem) => Record("StopDispatcher");

    public void RemoveMountPoint(nint fileSystem) => Record("RemoveMountPoint");

    public void Delete(nint fileSystem)
    {
        Record("Delete");
        // Kept allocated until Dispose: a test may still look at UserContext after the host let go.
    }

    /// <summary>Appends an entry at the 8-byte-aligned end of the used part; 0 (NULL) appends the 2-byte end marker.</summary>
    public bool AddDirInfo(nint dirInfo, nint buffer, uint length, ref uint bytesTransferred)
    {
        uint offset = (bytesTransferred + 7u) & ~7u;
        uint size = dirInfo == 0 ? (uint)sizeof(ushort) : ((DirInfo*)dirInfo)->Size;
        if (offset > length || size > length - offset)
        {
            return false;
        }

        if (dirInfo == 0)
        {
            *(ushort*)((byte*)buffer + offset) = 0;
        }
        else
        {
            new ReadOnlySpan<byte>((void*)dirInfo, (int)size).CopyTo(new Span<byte>((byte*)buffer + offset, (int)size));
        }

        bytesTransferred = offset + size;
        return true;
    }

    public void Dispose()
    {
        if (FileSystem != 0)
        {
            NativeMemory.Free((void*)FileSystem);
            FileSystem = 0;
        }
    }

    private void Record(string call)
    {
        lock (_calls)
        {
            _calls.Add(call);
        }
    }
}
