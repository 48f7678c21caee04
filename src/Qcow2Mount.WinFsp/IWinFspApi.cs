namespace Qcow2Mount.WinFsp;

/// <summary>
/// The WinFsp functions the host and the callbacks call, with pointers as <see cref="nint"/> so the seam can be faked
/// on Linux. <see cref="WinFspApi"/> forwards to winfsp-x64.dll; the argument meanings are winfsp.h's (winfsp-notes §3).
/// </summary>
internal interface IWinFspApi
{
    /// <summary>FspVersion: major &lt;&lt; 16 | minor.</summary>
    int Version(out uint version);

    /// <summary>FspFileSystemCreate(devicePath, VOLUME_PARAMS*, INTERFACE*, out FSP_FILE_SYSTEM*). Both structures must outlive the file system.</summary>
    int Create(string devicePath, nint volumeParams, nint fileSystemInterface, out nint fileSystem);

    /// <summary>FspFileSystemSetMountPoint: a drive ("Q:"), a directory that must not exist, or null for the first free letter.</summary>
    int SetMountPoint(nint fileSystem, string? mountPoint);

    /// <summary>FspFileSystemMountPointF: the mount point in use (the letter picked for null).</summary>
    string? MountPoint(nint fileSystem);

    int StartDispatcher(nint fileSystem, uint threadCount);

    void StopDispatcher(nint fileSystem);

    void RemoveMountPoint(nint fileSystem);

    void Delete(nint fileSystem);

    /// <summary>FspFileSystemAddDirInfo: appends one DIR_INFO (0 = the end marker) at <paramref name="bytesTransferred"/>; false = the buffer is full.</summary>
    bool AddDirInfo(nint dirInfo, nint buffer, uint length, ref uint bytesTransferred);
}
