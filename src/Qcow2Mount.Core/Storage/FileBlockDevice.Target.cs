using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core.Platform;

namespace Qcow2Mount.Core.Storage;

/// <summary>Opening a file a tool is about to (re)create: create, convert and their external data files.</summary>
public sealed partial class FileBlockDevice
{
    /// <summary>
    /// Opens <paramref name="path"/> for writing a new image into it, creating it when missing, in the order that keeps
    /// a file in use intact: open without truncating → refuse a <paramref name="protect"/>ed file (same inode: a
    /// symlink or hard link is no way round) → take QEMU's writer lock (refused while anyone holds the file: QEMU, a
    /// mount, another tool) → mark it sparse (NTFS makes holes only in sparse files) → return. Nothing has been written yet; the caller truncates (<see cref="SetLength"/>) once
    /// every file it needs is open and locked. A file this call created is removed again when it fails.
    /// </summary>
    /// <param name="role">What the file is to the tool ("target", "data file"), for the refusal message.</param>
    /// <exception cref="Errors.SameFileException">The file is protected.</exception>
    /// <exception cref="Errors.ImageLockedException">Another process uses the file.</exception>
    public static FileBlockDevice OpenTarget(string path, ProtectedFiles? protect, string role)
    {
        var (handle, created) = OpenOrCreate(path);
        var device = new FileBlockDevice(handle, path, readOnly: false) { IsNewFile = created };
        try
        {
            protect?.Check(FileIdentity.Of(handle, path), path, role);
            device._lock = ImageFileLock.Acquire(handle, path, write: true);
            HostPlatform.Space.MarkSparse(handle);
            return device;
        }
        catch
        {
            device.DisposeAndRemoveIfNew();
            throw;
        }
    }

    /// <summary>True when <see cref="OpenTarget"/> created the file (it did not exist before).</summary>
    public bool IsNewFile { get; private init; }

    /// <summary>For a creation that failed: closes the file, and removes it when <see cref="OpenTarget"/> created it.</summary>
    public void DisposeAndRemoveIfNew()
    {
        Dispose();
        if (IsNewFile)
        {
            File.Delete(Name);
        }
    }

    /// <summary>The handle, and whether this call created the file (O_CREAT|O_EXCL succeeded).</summary>
    private static (SafeFileHandle Handle, bool Created) OpenOrCreate(string path)
    {
        try
        {
            return (OpenShared(path, FileMode.CreateNew, FileAccess.ReadWrite, exclusive: true), true);
        }
        catch (IOException e) when (e is not Errors.ImageLockedException && (Path.Exists(path) || new FileInfo(path).LinkTarget is not null))
        {
            // It exists (or is a symlink, followed here as by any open): open it as it is, not truncated.
            return (OpenShared(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, exclusive: true), false);
        }
    }
}
