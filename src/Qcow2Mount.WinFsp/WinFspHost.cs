using System.Runtime.InteropServices;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.WinFsp.Interop;

namespace Qcow2Mount.WinFsp;

/// <summary>
/// Mounts an <see cref="IVirtualFileSystem"/> through WinFsp and takes it down again. Owns the native volume parameters
/// and interface table (WinFsp keeps pointers to both for the file system's lifetime), the GCHandle the callbacks find
/// the file system through, and the file system's disks. Mount: Create → UserContext → SetMountPoint → StartDispatcher.
/// Unmount: StopDispatcher (no callback runs after it) → flush every image → RemoveMountPoint → Delete → dispose the
/// images → free the native memory. A failed step of Mount undoes the earlier ones before it throws.
/// </summary>
internal sealed unsafe class WinFspHost : IDisposable
{
    public const string FileSystemName = "Qcow2Mount";

    private readonly IWinFspApi _api;
    private readonly WinFspFileSystem _fileSystem;
    private VolumeParams* _volumeParams;
    private FileSystemInterface* _interface;
    private GCHandle _self;
    private nint _fs;
    private bool _dispatching;
    private readonly bool _ownsFileSystem;
    private bool _disposed;

    /// <summary>
    /// Takes ownership of <paramref name="fileSystem"/> (its disks are disposed on <see cref="Unmount"/>) unless
    /// <paramref name="ownsFileSystem"/> is false (then the caller closes it after <see cref="Unmount"/>).
    /// <paramref name="security"/>: what every node reports; null = the user this process runs as.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="fileSystem"/> compares names with case.</exception>
    public WinFspHost(IWinFspApi api, IVirtualFileSystem fileSystem, Action<string> log, SecurityDescriptor? security = null, bool ownsFileSystem = true)
    {
        _api = api;
        _fileSystem = new WinFspFileSystem(fileSystem, api, log, security);
        _ownsFileSystem = ownsFileSystem;
    }

    public WinFspFileSystem FileSystem => _fileSystem;

    /// <summary>The mount point WinFsp uses (the drive letter picked when Mount was given null).</summary>
    public string? MountPoint { get; private set; }

    /// <summary>Set when WinFsp's dispatcher stopped: after <see cref="Unmount"/>, or on its own (driver unloaded).</summary>
    public WaitHandle Stopped => _fileSystem.Stopped;

    /// <summary>The volume parameters this host passes to FspFileSystemCreate (filled, not yet in native memory).</summary>
    public static VolumeParams CreateVolumeParams(bool readOnly, DateTime nowUtc)
    {
        long created = nowUtc.ToFileTimeUtc();
        var p = new VolumeParams
        {
            Version = VolumeParams.Size,
            SectorSize = WinFspFileSystem.AllocationUnit,
            SectorsPerAllocationUnit = 1,
            MaxComponentLength = 255,
            VolumeCreationTime = (ulong)created,
            VolumeSerialNumber = (uint)(created ^ (created >> 32)),
            FileInfoTimeout = 1000,
            Flags = VolumeFlags.CasePreservedNames | VolumeFlags.UnicodeOnDisk | VolumeFlags.PersistentAcls
                | VolumeFlags.PostCleanupWhenModifiedOnly | VolumeFlags.UmFileContextIsUserContext2
                | (readOnly ? VolumeFlags.ReadOnlyVolume : VolumeFlags.None),
        };
        p.SetFileSystemName(FileSystemName);
        return p;
    }

    /// <summary>Mounts at <paramref name="mountPoint"/> ("Q:", a directory that does not exist yet, or null for a free letter).</summary>
    /// <exception cref="WinFspException">A WinFsp call failed; nothing is left mounted.</exception>
    public void Mount(string? mountPoint, uint threadCount = 0)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_fs != 0)
        {
            throw new InvalidOperationException("already mounted");
        }

        _volumeParams = (VolumeParams*)NativeMemory.AllocZeroed((nuint)sizeof(VolumeParams));
        *_volumeParams = CreateVolumeParams(_fileSystem.ReadOnly, DateTime.UtcNow);
        _interface = WinFspCallbacks.CreateTable();
        _self = GCHandle.Alloc(_fileSystem);

        int status = _api.Create(WinFspConstants.DiskDeviceName, (nint)_volumeParams, (nint)_interface, out nint fs);
        if (status != NtStatus.Success)
        {
            FreeNative();
            throw new WinFspException("FspFileSystemCreate", status);
        }

        _fs = fs;
        ((FileSystemHeader*)fs)->UserContext = GCHandle.ToIntPtr(_self);
        status = _api.SetMountPoint(fs, mountPoint);
        if (status != NtStatus.Success)
        {
            DeleteFileSystem();
            throw new WinFspException($"FspFileSystemSetMountPoint({mountPoint ?? "first free drive letter"})", status);
        }

        MountPoint = _api.MountPoint(fs);
        status = _api.StartDispatcher(fs, threadCount);
        if (status != NtStatus.Success)
        {
            _api.RemoveMountPoint(fs);
            DeleteFileSystem();
            throw new WinFspException("FspFileSystemStartDispatcher", status);
        }

        _dispatching = true;
    }

    /// <summary>
    /// Stops the dispatcher, flushes every image, removes the mount point and deletes the file system, then disposes
    /// the images. Safe to call twice. A flush failure is thrown after the teardown finished (and logged).
    /// </summary>
    public void Unmount()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Exception? flushError = null;
        if (_fs != 0)
        {
            if (_dispatching)
            {
                _api.StopDispatcher(_fs);
                _dispatching = false;
            }

            flushError = FlushAll();
            _api.RemoveMountPoint(_fs);
            DeleteFileSystem();
        }
        else
        {
            flushError = FlushAll();
        }

        if (_ownsFileSystem)
        {
            _fileSystem.Vfs.Dispose();
        }

        _fileSystem.DispatcherStopped(normally: true);
        if (flushError is not null)
        {
            throw flushError;
        }
    }

    public void Dispose() => Unmount();

    private Exception? FlushAll()
    {
        try
        {
            _fileSystem.Vfs.FlushAll();
            return null;
        }
        catch (Exception e)
        {
            _fileSystem.Log($"flush before unmount failed: {e.Message}");
            return e;
        }
    }

    private void DeleteFileSystem()
    {
        _api.Delete(_fs);
        _fs = 0;
        FreeNative();
    }

    private void FreeNative()
    {
        NativeMemory.Free(_volumeParams);
        NativeMemory.Free(_interface);
        _volumeParams = null;
        _interface = null;
        if (_self.IsAllocated)
        {
            _self.Free();
        }
    }
}
