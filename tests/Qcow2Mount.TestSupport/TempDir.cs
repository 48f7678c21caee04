namespace Qcow2Mount.TestSupport;

/// <summary>A unique directory under /tmp, deleted on dispose. Tests keep every file of one case inside one.</summary>
public sealed class TempDir : IDisposable
{
    /// <param name="label">Part of the directory name (for finding leftovers).</param>
    /// <param name="root">Where to make it; default the temp directory (<c>/dev/shm</c> suits tests that sync often).</param>
    public TempDir(string? label = null, string? root = null)
    {
        Path = Create(label, root);
    }

    public string Path { get; }

    /// <summary>A path inside the directory (the file is not created).</summary>
    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose() => Delete(Path);

    /// <summary>
    /// Makes a directory as the constructor does and returns its path: for a fixture that makes one in [SetUp] and
    /// removes it with <see cref="Delete"/> in [TearDown] (a fixture object outlives its tests, so it holds the path).
    /// </summary>
    public static string Create(string? label = null, string? root = null)
    {
        string name = $"qcow2mount-{(label is null ? string.Empty : Sanitize(label) + "-")}{Guid.NewGuid():N}";
        return Directory.CreateDirectory(System.IO.Path.Combine(root ?? System.IO.Path.GetTempPath(), name)).FullName;
    }

    /// <summary>Deletes <paramref name="path"/> and everything in it, if it is still there.</summary>
    public static void Delete(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Already gone.
        }
        catch (IOException)
        {
            // A file still open elsewhere must not turn a passing test into a failure; /tmp is cleaned anyway.
        }
    }

    public override string ToString() => Path;

    private static string Sanitize(string label)
    {
        var chars = label.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').Take(40).ToArray();
        return new string(chars);
    }
}
