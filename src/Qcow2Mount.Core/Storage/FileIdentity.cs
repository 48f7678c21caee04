using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core.Platform;

namespace Qcow2Mount.Core.Storage;

/// <summary>
/// Which file a path or handle really is, so a symlink, a hard link or another spelling of the path is recognised as
/// the same file: (st_dev, st_ino) on Linux, (volume serial number, file index) on Windows (<see cref="IFileProbe"/>).
/// Where neither can be read (a directory on Windows) the full path with its links resolved stands in, which still
/// catches symlinks and spellings but not hard links.
/// </summary>
public readonly record struct FileIdentity(ulong Device, ulong Inode, string? FullPath)
{
    /// <summary>The file <paramref name="path"/> names (links followed), or null when it does not exist.</summary>
    public static FileIdentity? Of(string path) => HostPlatform.Files.Identity(path);

    /// <summary>The file <paramref name="handle"/> has open (<paramref name="path"/> is what it was opened as).</summary>
    public static FileIdentity Of(SafeFileHandle handle, string path) => HostPlatform.Files.Identity(handle, path);
}
