namespace Qcow2Mount.Core.Vfs;

/// <summary>
/// The directory a mount shows: one raw file per image. Owns the disks and disposes them.
/// Names follow one rule: <c>disk.qcow2</c> → <c>disk.raw</c>, any other name gets <c>.raw</c> appended;
/// clashes get <c>-2</c>, <c>-3</c>, … before the extension.
/// </summary>
public sealed class ImageDirectory : IDisposable
{
    private readonly List<ImageFile> _files = new();
    private readonly Dictionary<string, ImageFile> _byName = new(StringComparer.Ordinal);

    public IReadOnlyList<ImageFile> Files => _files;

    public static string RawNameFor(string imagePath)
    {
        string name = Path.GetFileName(imagePath);
        return name.EndsWith(".qcow2", StringComparison.OrdinalIgnoreCase)
            ? string.Concat(name.AsSpan(0, name.Length - ".qcow2".Length), ".raw")
            : name + ".raw";
    }

    public ImageFile Add(string imagePath, IVirtualDisk disk)
    {
        string name = RawNameFor(imagePath);
        string stem = name[..^".raw".Length];
        for (int n = 2; _byName.ContainsKey(name); n++)
        {
            name = $"{stem}-{n}.raw";
        }

        var file = new ImageFile(name, imagePath, disk);
        _files.Add(file);
        _byName.Add(name, file);
        return file;
    }

    public ImageFile? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Flushes every disk (used on fsync of the directory and before unmount).</summary>
    public void FlushAll()
    {
        foreach (var f in _files)
        {
            f.Disk.Flush();
        }
    }

    public void Dispose()
    {
        foreach (var f in _files)
        {
            f.Disk.Dispose();
        }

        _files.Clear();
        _byName.Clear();
    }
}
