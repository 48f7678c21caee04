using Qcow2Mount.Core.Hosting;
using Qcow2Mount.Fuse.Interop;
using FileStatus = Qcow2Mount.Core.Interop.FileStatus;

namespace Qcow2Mount.Fuse.Hosting;

/// <summary>Checks everything about FUSE that can be checked before an image is opened, so failures leave nothing behind.</summary>
internal static class MountPreflight
{
    public const string FuseDevice = "/dev/fuse";

    /// <summary>libfuse, /dev/fuse and the user's access to it, the mount point, the pid-file directory.</summary>
    public static void Check(MountSpec spec)
    {
        Libfuse.Load(spec.NativeLibrary);
        if (!FileStatus.IsCharacterDevice(FuseDevice))
        {
            throw new FuseUnavailableException($"{FuseDevice} is missing or not a device: load the fuse module (modprobe fuse) or, in a container, pass the device in");
        }

        CheckDeviceAccess();
        CheckMountPoint(spec.MountPoint);
        MountPidFile.CheckDirectory();
    }

    /// <summary>
    /// A user mounts through /dev/fuse itself (libfuse 3 falls back to fusermount3 only after opening it), so a device
    /// the user cannot open ends every mount; libfuse would only print "failed to open /dev/fuse: Permission denied".
    /// </summary>
    private static void CheckDeviceAccess()
    {
        if (Libc.GetEUid() == 0)
        {
            return;
        }

        try
        {
            using var device = File.OpenHandle(FuseDevice, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        }
        catch (UnauthorizedAccessException)
        {
            throw new FuseUnavailableException(
                $"{FuseDevice}: permission denied for your user (uid {Libc.GetEUid()}): mount as root, or ask an administrator to let users open it (chmod 0666 /dev/fuse, its usual mode)");
        }
    }

    /// <summary>The mount point must be an existing directory that is not a mount point already (a dead one is named so).</summary>
    private static void CheckMountPoint(string mp)
    {
        var existing = MountTable.Find(mp);
        int errno = FileStatus.Get(mp, followLinks: true, out var status);
        if (errno == Errno.ENOTCONN)
        {
            string how = existing is null || existing.Value.Type == MountTable.OurType
                ? $"'qcow2mount unmount {mp}' or 'fusermount3 -u {mp}'"
                : $"'fusermount3 -u {mp}'";
            throw new MountFailedException($"{mp}: stale mount (its server is gone: the mount point answers 'Transport endpoint is not connected'): unmount it with {how}, then mount again");
        }

        if (existing is { } mounted)
        {
            throw new MountFailedException($"{mp}: already a mount point ({mounted.Type} from {mounted.Source}); unmount it first");
        }

        if (errno != 0)
        {
            throw new MountFailedException(errno == Errno.ENOENT ? $"{mp}: mount point does not exist" : $"{mp}: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}");
        }

        if (status.Type != FileStatus.S_IFDIR)
        {
            throw new MountFailedException($"{mp}: mount point is not a directory");
        }
    }
}
