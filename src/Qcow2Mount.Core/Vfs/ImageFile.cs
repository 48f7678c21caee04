namespace Qcow2Mount.Core.Vfs;

/// <summary>One raw file shown by a mount: a name and the virtual disk behind it.</summary>
public sealed class ImageFile
{
    public ImageFile(string name, string sourcePath, IVirtualDisk disk)
    {
        Name = name;
        SourcePath = sourcePath;
        Disk = disk;
        bool exists = File.Exists(sourcePath);
        ModifiedUtc = exists ? File.GetLastWriteTimeUtc(sourcePath) : DateTime.UtcNow;
        AccessedUtc = exists ? File.GetLastAccessTimeUtc(sourcePath) : ModifiedUtc;
        ChangedUtc = ModifiedUtc;
    }

    /// <summary>File name inside the mount directory, e.g. <c>disk.raw</c>.</summary>
    public string Name { get; }

    /// <summary>The image file it was opened from.</summary>
    public string SourcePath { get; }

    public IVirtualDisk Disk { get; }

    /// <summary>
    /// The raw file's times: at first the image file's; writes set the modification and change times, and times a user
    /// sets (touch, cp -p) are kept for the life of the mount. They are never written back to the image file.
    /// </summary>
    public DateTime ModifiedUtc { get; set; }

    public DateTime AccessedUtc { get; set; }

    public DateTime ChangedUtc { get; set; }
}
