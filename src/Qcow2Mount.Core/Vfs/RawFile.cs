using Qcow2Mount.Core.Qcow2;

namespace Qcow2Mount.Core.Vfs;

/// <summary>
/// One raw file a mount shows: a name and the virtual disk behind it, byte for byte; its size is the disk's and never
/// changes. Its times start as the image file's (modification, and creation and change alike; access) and then follow
/// writes and what users set.
/// </summary>
public sealed class RawFile : VfsNode
{
    internal RawFile(string name, string sourcePath, IVirtualDisk disk, int index, bool isSnapshot = false)
        : base((ulong)index + 2, name, InitialTimes(sourcePath))
    {
        SourcePath = sourcePath;
        IsSnapshot = isSnapshot;
        Disk = disk;
        Index = index;
        HostFiles = disk is Qcow2Image { Header.ExternalDataFile: { Length: > 0 } dataFile }
            ? [sourcePath, Path.GetFullPath(dataFile)]
            : [sourcePath];
    }

    /// <summary>The image file it was opened from.</summary>
    public string SourcePath { get; }

    public IVirtualDisk Disk { get; }

    /// <summary>An internal snapshot of the image (<see cref="SnapshotFileNames"/>): read-only on any mount.</summary>
    public bool IsSnapshot { get; }

    /// <summary>Place in <see cref="IVirtualFileSystem.Files"/> (image order).</summary>
    public int Index { get; }

    /// <summary>Bytes in the file: the disk's virtual size.</summary>
    public long Size => Disk.Length;

    public override bool IsDirectory => false;

    /// <summary>
    /// The host files that hold the image's clusters: the image file, and a qcow2 image's external data file (whose
    /// relative name is relative to the working directory, as the engine opened it). Backing files are not theirs.
    /// </summary>
    internal IReadOnlyList<string> HostFiles { get; }

    private static NodeTimes InitialTimes(string sourcePath)
    {
        if (!File.Exists(sourcePath))
        {
            var now = DateTime.UtcNow;
            return new NodeTimes(now, now, now, now);
        }

        var modified = File.GetLastWriteTimeUtc(sourcePath);
        return new NodeTimes(modified, File.GetLastAccessTimeUtc(sourcePath), modified, modified);
    }
}
