using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core.Interop;

namespace Qcow2Mount.Core.Storage;

/// <summary>
/// Which file a path or handle really is: (st_dev, st_ino) on Linux, so a symlink, a hard link or another spelling of
/// the path is recognised as the same file. Where there is no inode (not Linux) the full path with its links resolved
/// stands in, which still catches symlinks and spellings but not hard links.
/// </summary>
public readonly record struct FileIdentity(ulong Device, ulong Inode, string? FullPath)
{
    /// <summary>The file <paramref name="path"/> names (links followed), or null when it does not exist.</summary>
    public static FileIdentity? Of(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return File.Exists(path) || Directory.Exists(path) ? new FileIdentity(0, 0, RealPath(path)) : null;
        }

        return FileStatus.Get(path, followLinks: true, out var status) == 0 ? FromStat(status) : null;
    }

    /// <summary>The file <paramref name="handle"/> has open (<paramref name="path"/> is what it was opened as).</summary>
    public static FileIdentity Of(SafeFileHandle handle, string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return new FileIdentity(0, 0, RealPath(path));
        }

        int errno = FileStatus.Get(handle, out var status);
        if (errno != 0)
        {
            throw new IOException($"{path}: cannot stat the open file: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        return FromStat(status);
    }

    private static FileIdentity FromStat(FileStatus status) => new(status.Device, status.Inode, null);

    private static string RealPath(string path)
    {
        var info = new FileInfo(Path.GetFullPath(path));
        return info.LinkTarget is null ? info.FullName : info.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? info.FullName;
    }
}
