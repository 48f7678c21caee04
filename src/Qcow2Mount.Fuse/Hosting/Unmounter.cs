using System.Diagnostics;
using System.Runtime.InteropServices;
using Qcow2Mount.Fuse.Interop;

namespace Qcow2Mount.Fuse.Hosting;

/// <summary>Unmounts a FUSE mount point: umount2(2) as root, else the setuid helper <c>fusermount3 -u</c>.</summary>
internal static class Unmounter
{
    private const int EBUSY = 16;
    private const int EINVAL = 22;

    /// <summary>Returns null on success, else a one-line reason. <paramref name="lazy"/> detaches even while the mount is in use.</summary>
    public static string? Unmount(string mountPoint, bool lazy)
    {
        if (Libc.GetEUid() == 0)
        {
            if (Libc.Umount2(mountPoint, lazy ? Libc.MNT_DETACH : 0) == 0)
            {
                return null;
            }

            int errno = Marshal.GetLastPInvokeError();
            return errno switch
            {
                EBUSY => $"{mountPoint}: mount point is busy (a file in it is open or a loop device uses it)",
                EINVAL => $"{mountPoint}: not a mount point",
                _ => $"{mountPoint}: unmount failed: {Marshal.GetPInvokeErrorMessage(errno)}",
            };
        }

        var start = new ProcessStartInfo("fusermount3") { RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add(lazy ? "-uz" : "-u");
        start.ArgumentList.Add(mountPoint);
        using var process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd().Trim();
        process.WaitForExit();
        return process.ExitCode == 0 ? null : (error.Length > 0 ? error : $"{mountPoint}: fusermount3 -u failed");
    }
}
