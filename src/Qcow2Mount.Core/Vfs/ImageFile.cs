namespace Qcow2Mount.Core.Vfs;

/// <summary>One raw file shown by a mount: a name and the virtual disk behind it.</summary>
public sealed class ImageFile
{
    public ImageFile(string name, string sourcePath, IVirtualDisk disk)
    {
        Name = name;
        SourcePath = sourcePath;
        Disk = disk;
        ModifiedUtc = File.Exists(sourcePath) ? File.GetLastWriteTimeUtc(sourcePath) : DateTime.UtcNow;
    }

    /// <summary>File name inside the mount directory, e.g. <c>disk.raw</c>.</summary>
    public string Name { get; }

    /// <summary>The image file it was opened from.</summary>
    public string SourcePath { get; }

    public IVirtualDisk Disk { get; }

    public DateTime ModifiedUtc { get; set; }
}
