using Qcow2Mount.Core.Errors;

namespace Qcow2Mount.Core.Storage;

/// <summary>
/// Files a tool must not overwrite while it writes a new image, by identity (<see cref="FileIdentity"/>: whatever
/// path, symlink or hard link names them), each with what it is ("the source image", "a backing file of the source").
/// </summary>
public sealed class ProtectedFiles
{
    private readonly List<(FileIdentity Identity, string Path, string What)> _files = [];

    /// <summary>Protects the file <paramref name="path"/> names, if it exists.</summary>
    public ProtectedFiles Add(string path, string what)
    {
        if (FileIdentity.Of(path) is { } identity)
        {
            _files.Add((identity, path, what));
        }

        return this;
    }

    public ProtectedFiles Add(FileIdentity identity, string path, string what)
    {
        _files.Add((identity, path, what));
        return this;
    }

    /// <summary>A copy that also protects <paramref name="identity"/>.</summary>
    public ProtectedFiles With(FileIdentity identity, string path, string what)
    {
        var copy = new ProtectedFiles();
        copy._files.AddRange(_files);
        return copy.Add(identity, path, what);
    }

    /// <summary>Throws <see cref="SameFileException"/> when <paramref name="target"/> (opened as <paramref name="path"/>) is a protected file.</summary>
    public void Check(FileIdentity target, string path, string role)
    {
        foreach (var (identity, protectedPath, what) in _files)
        {
            if (identity == target)
            {
                // Name the protected file when the target reached it under another name (a link, another spelling).
                string alias = Path.GetFullPath(protectedPath) == Path.GetFullPath(path) ? "" : $" ({protectedPath}, the same file)";
                throw new SameFileException($"{path}: {role} is {what}{alias}; refusing to overwrite it");
            }
        }
    }
}
