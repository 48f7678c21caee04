namespace Qcow2Mount.Core.Platform;

/// <summary>
/// How a name written in an image (backing file, external data file) names a host file — the one place for it.
/// POSIX (Linux): only <c>/</c> separates and only a leading <c>/</c> makes a name absolute; a <c>\</c> is an
/// ordinary character, as in QEMU on Linux. Windows: <c>\</c> and <c>/</c> both separate, and a name is absolute when
/// it starts with either, or with a drive (<c>C:</c>, drive-relative <c>C:x</c> included, as QEMU counts it), which
/// covers UNC (<c>\\server\share</c>) and device (<c>\\.\</c>) names too.
/// </summary>
public sealed class HostPathRules
{
    public static readonly HostPathRules Posix = new(windows: false);

    public static readonly HostPathRules Windows = new(windows: true);

    private readonly bool _windows;

    private HostPathRules(bool windows)
    {
        _windows = windows;
    }

    /// <summary>The rules of the host this process runs on.</summary>
    public static HostPathRules Current => HostPlatform.Paths;

    public bool IsAbsolute(string name) =>
        _windows
            ? name.Length > 0 && (IsSeparator(name[0]) || (name.Length >= 2 && name[1] == ':' && char.IsAsciiLetter(name[0])))
            : name.StartsWith('/');

    /// <summary>
    /// QEMU's path_combine, as text: an absolute <paramref name="name"/> as it is, else <paramref name="name"/> after
    /// the directory part of <paramref name="referrer"/> (up to its last separator, or its drive on Windows), so a
    /// referrer without one gives <paramref name="name"/> alone. What <c>info</c> shows as full-backing-filename.
    /// </summary>
    public string Combine(string referrer, string name)
    {
        if (IsAbsolute(name))
        {
            return name;
        }

        int cut = referrer.LastIndexOf('/') + 1;
        if (_windows)
        {
            cut = Math.Max(cut, referrer.LastIndexOf('\\') + 1);
            if (referrer.Length >= 2 && referrer[1] == ':' && char.IsAsciiLetter(referrer[0]))
            {
                cut = Math.Max(cut, 2);
            }
        }

        return referrer[..cut] + name;
    }

    /// <summary>
    /// The full path of the file a backing file name means: an absolute name as it is, else relative to the directory
    /// of the image that names it (<paramref name="referrer"/>). The host's own full-path rules finish the job, so
    /// this is for names on this host (<see cref="Current"/>).
    /// </summary>
    public string Resolve(string referrer, string name) =>
        IsAbsolute(name) ? name : Path.GetFullPath(Combine(Path.GetFullPath(referrer), name));

    private bool IsSeparator(char c) => c == '/' || (_windows && c == '\\');
}
