namespace Qcow2Mount.Packaging.Tests.Support;

/// <summary>A .desktop file read as the XDG Desktop Entry spec lays it out: [groups] of Key=Value lines.</summary>
internal sealed class DesktopEntry
{
    private readonly Dictionary<string, Dictionary<string, string>> _groups;

    private DesktopEntry(Dictionary<string, Dictionary<string, string>> groups)
    {
        _groups = groups;
    }

    public string this[string group, string key] => _groups[group][key];

    public static DesktopEntry Read(string path)
    {
        var groups = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
        Dictionary<string, string>? current = null;
        foreach (string line in File.ReadAllLines(path))
        {
            if (line.StartsWith('[') && line.EndsWith(']'))
            {
                current = groups[line[1..^1]] = new Dictionary<string, string>(StringComparer.Ordinal);
            }
            else if (current is not null && line.IndexOf('=', StringComparison.Ordinal) is int eq and > 0 && !line.StartsWith('#'))
            {
                current[line[..eq].Trim()] = line[(eq + 1)..].Trim();
            }
        }

        return new DesktopEntry(groups);
    }

    /// <summary>
    /// An Exec line as a file manager runs it for one file: split at spaces (ours quote nothing) and %f replaced by the
    /// file, as one argument.
    /// </summary>
    public static string[] ExecFor(string exec, string file) =>
        exec.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(a => a == "%f" ? file : a).ToArray();
}
