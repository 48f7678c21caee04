namespace Qcow2Mount.Core.Vfs;

/// <summary>
/// The naming rule of raw files: <c>disk.qcow2</c> → <c>disk.raw</c>, any other name gets <c>.raw</c> appended;
/// a name already taken gets <c>-2</c>, <c>-3</c>, … before the extension. "Taken" is decided by the platform's
/// comparison: on Windows <c>Disk.raw</c> takes <c>disk.raw</c> too.
/// </summary>
public static class RawNames
{
    private const string Qcow2Extension = ".qcow2";
    private const string RawExtension = ".raw";

    /// <summary>The name before any clash is resolved.</summary>
    public static string For(string imagePath)
    {
        string name = Path.GetFileName(imagePath);
        return name.EndsWith(Qcow2Extension, StringComparison.OrdinalIgnoreCase)
            ? string.Concat(name.AsSpan(0, name.Length - Qcow2Extension.Length), RawExtension)
            : name + RawExtension;
    }

    /// <summary>The first of <paramref name="name"/>, <c>STEM-2.raw</c>, <c>STEM-3.raw</c>, … that <paramref name="isTaken"/> refuses.</summary>
    public static string Unique(string name, Func<string, bool> isTaken)
    {
        string stem = name[..^RawExtension.Length];
        for (int n = 2; isTaken(name); n++)
        {
            name = $"{stem}-{n}{RawExtension}";
        }

        return name;
    }
}
