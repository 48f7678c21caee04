using Qcow2Mount.Fuse;
using Qcow2Mount.Fuse.Interop;

namespace Qcow2Mount.Cli;

/// <summary>Checks everything that can be checked before an image is opened, so failures leave nothing behind.</summary>
internal static class MountPreflight
{
    public const string FuseDevice = "/dev/fuse";

    public static void Check(MountRequest request)
    {
        Libfuse.Load(request.LibfusePath);
        if (!FileType.IsCharacterDevice(FuseDevice))
        {
            throw new FuseUnavailableException($"{FuseDevice} is missing or not a device: load the fuse module (modprobe fuse) or, in a container, pass the device in");
        }

        string mp = request.MountPoint;
        if (!Directory.Exists(mp))
        {
            throw new MountFailedException(File.Exists(mp) ? $"{mp}: mount point is not a directory" : $"{mp}: mount point does not exist");
        }

        if (MountTable.Find(mp) is { } existing)
        {
            throw new MountFailedException($"{mp}: already a mount point ({existing.Type} from {existing.Source}); unmount it first");
        }

        foreach (string image in request.Images)
        {
            if (Directory.Exists(image))
            {
                throw new MountFailedException($"{image}: is a directory, not an image file");
            }

            if (!File.Exists(image))
            {
                throw new MountFailedException($"{image}: no such image file");
            }
        }
    }
}
