using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Qcow2Mount.WinFsp.Interop;

namespace Qcow2Mount.WinFsp;

/// <summary>The real <see cref="IWinFspApi"/>: loads WinFsp's DLL on construction (<see cref="WinFspNotInstalledException"/> if missing).</summary>
[SupportedOSPlatform("windows")]
internal sealed unsafe class WinFspApi : IWinFspApi
{
    public WinFspApi() => WinFspLibrary.Load();

    public int Version(out uint version)
    {
        uint v = 0;
        int status = WinFspNative.FspVersion(&v);
        version = v;
        return status;
    }

    public int Create(string devicePath, nint volumeParams, nint fileSystemInterface, out nint fileSystem)
    {
        nint fs = 0;
        int status = WinFspNative.FspFileSystemCreate(devicePath, (VolumeParams*)volumeParams, (FileSystemInterface*)fileSystemInterface, &fs);
        fileSystem = fs;
        return status;
    }

    public int SetMountPoint(nint fileSystem, string? mountPoint) => WinFspNative.FspFileSystemSetMountPoint(fileSystem, mountPoint);

    public string? MountPoint(nint fileSystem) => Marshal.PtrToStringUni((nint)WinFspNative.FspFileSystemMountPointF(fileSystem));

    public int StartDispatcher(nint fileSystem, uint threadCount) => WinFspNative.FspFileSystemStartDispatcher(fileSystem, threadCount);

    public void StopDispatcher(nint fileSystem) => WinFspNative.FspFileSystemStopDispatcher(fileSystem);

    public void RemoveMountPoint(nint fileSystem) => WinFspNative.FspFileSystemRemoveMountPoint(fileSystem);

    public void Delete(nint fileSystem) => WinFspNative.FspFileSystemDelete(fileSystem);

    public bool AddDirInfo(nint dirInfo, nint buffer, uint length, ref uint bytesTransferred)
    {
        fixed (uint* transferred = &bytesTransferred)
        {
            return WinFspNative.FspFileSystemAddDirInfo((DirInfo*)dirInfo, (void*)buffer, length, transferred) != 0;
        }
    }
}
