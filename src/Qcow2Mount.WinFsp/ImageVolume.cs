using Qcow2Mount.Core.Vfs;

namespace Qcow2Mount.WinFsp;

/// <summary>
/// The engine as the WinFsp shim sees it, and the only class here that touches Core's <see cref="ImageDirectory"/>,
/// <see cref="ImageFile"/> and the disks (so the shim can be re-pointed at the shared Vfs in this one place).
/// Windows names are case-insensitive: files are found and listed ignoring case, and two images whose raw names
/// differ only in case are refused (Windows could show only one of them).
/// </summary>
internal sealed class ImageVolume : IDisposable
{
    private readonly ImageDirectory _directory;
    private readonly Dictionary<string, VolumeFile> _byName = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Takes ownership of <paramref name="directory"/>: <see cref="Dispose"/> disposes its disks.</summary>
    /// <exception cref="ArgumentException">Two raw names differ only in case.</exception>
    public ImageVolume(ImageDirectory directory)
    {
        _directory = directory;
        var files = new List<VolumeFile>();
        foreach (var file in directory.Files)
        {
            var entry = new VolumeFile(file, files.Count);
            if (!_byName.TryAdd(file.Name, entry))
            {
                throw new ArgumentException($"{_byName[file.Name].Name} and {file.Name} differ only in case: Windows cannot show both (rename one image)");
            }

            files.Add(entry);
        }

        Files = files;
        Listing = [.. files.OrderBy(f => f.Name, StringComparer.OrdinalIgnoreCase)];
    }

    /// <summary>The files in image order (their index is their place here).</summary>
    public IReadOnlyList<VolumeFile> Files { get; }

    /// <summary>The files in directory order: names ascending, ignoring case (ReadDirectory's marker relies on it).</summary>
    public IReadOnlyList<VolumeFile> Listing { get; }

    /// <summary>True when any disk was opened read-only.</summary>
    public bool AnyReadOnly => Files.Any(f => f.IsReadOnly);

    public VolumeFile? Find(string name) => _byName.GetValueOrDefault(name);

    public void FlushAll() => _directory.FlushAll();

    public void Dispose() => _directory.Dispose();
}
