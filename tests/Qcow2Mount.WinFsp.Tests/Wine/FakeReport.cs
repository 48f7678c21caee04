namespace Qcow2Mount.WinFsp.Tests.Wine;

/// <summary>
/// The fake winfsp-x64.dll's ordered call log: one line per WinFsp call, script result or driver note, e.g.
/// <c>read 1 offset=3146240 status=0xC0000011 bytes=0</c>. Lines are looked up by their leading words.
/// </summary>
internal sealed class FakeReport(IReadOnlyList<string> lines)
{
    public IReadOnlyList<string> Lines { get; } = lines;

    public static FakeReport Load(string path) =>
        new(File.Exists(path) ? File.ReadAllLines(path).Where(l => l.Length > 0).ToArray() : []);

    /// <summary>Index of the first line that starts with <paramref name="head"/> followed by a space or the end, or -1.</summary>
    public int IndexOf(string head, int from = 0)
    {
        for (int i = from; i < Lines.Count; i++)
        {
            if (Lines[i] == head || Lines[i].StartsWith(head + " ", StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The key=value fields of the first line starting with <paramref name="head"/>, or null when there is none.</summary>
    public IReadOnlyDictionary<string, string>? Fields(string head)
    {
        int i = IndexOf(head);
        if (i < 0)
        {
            return null;
        }

        return Lines[i].Split(' ')
            .Select(t => t.Split('=', 2))
            .Where(p => p.Length == 2)
            .GroupBy(p => p[0])
            .ToDictionary(g => g.Key, g => g.First()[1]);
    }

    public override string ToString() => string.Join('\n', Lines);
}
