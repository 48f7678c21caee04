using Qcow2Mount.Core.Hosting;
using Qcow2Mount.Fuse.Hosting;
using Qcow2Mount.WinFsp.Hosting;

namespace Qcow2Mount.Cli.Mount;

/// <summary>The <see cref="IMountHost"/> of the platform this program runs on: the one place the command line picks a shim.</summary>
internal static class MountHosts
{
    public static IMountHost ForThisPlatform() =>
        OperatingSystem.IsLinux() ? new FuseMountHost()
        : OperatingSystem.IsWindows() ? new WinFspMountHost()
        : throw new MountFailedException($"mounting is not available on {System.Runtime.InteropServices.RuntimeInformation.OSDescription} (Linux: FUSE; Windows: WinFsp)");
}
