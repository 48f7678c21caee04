namespace Qcow2Mount.Core.Vfs;

/// <summary>
/// The naming rule of raw files: <c>disk.qcow2</c> → <c>disk.raw</c>, any other name gets <c>.raw</c> appended (and
/// <c>disk.vhd</c> likewise for the VHD view); a name already taken gets <c>-2</c>, <c>-3</c>, … before the extension. "Taken" is decided by the platform's
/// comparison: on Windows <c>Disk.raw</c> takes <c>disk.raw</c> too.
/// </summary>
public static class RawNames
{
    private const string Qcow2Extension = ".qcow2";
    private const string RawExtension = ".raw";
    private const string VhdExtension = ".vhd";

    /// <summary>The name before any clash is resolved.</summary>
    public static string For(string imagePath) => WithExtension(imagePath, RawExtension);

    /// <summary>The fixed-VHD view's name before any clash is resolved: <c>disk.qcow2</c> → <c>disk.vhd</c>.</summary>
    public static string VhdFor(string imagePath) => WithExtension(imagePath, VhdExtension);

    /// <summary>
    /// The first of <paramref name="name"/>, <c>STEM-2.raw</c>, <c>STEM-3.raw</c>, … that <paramref name="isTaken"/> refuses; never
    /// longer than <see cref="VolumeCapacity.NameMax"/> UTF-8 bytes when <paramref name="name"/> is not.
    /// </summary>
    public static string Unique(string name, Func<string, bool> isTaken)
    {
        string extension = Path.GetExtension(name);
        string stem = name[..^extension.Length];
        for (int n = 2; isTaken(name); n++)
        {
            // A name at the length limit (a cut snapshot name) loses characters of its stem to make room for "-N".
            string suffix = $"-{n}{extension}";
            string kept = stem;
            while (kept.Length > 0 && System.Text.Encoding.UTF8.GetByteCount(kept) + System.Text.Encoding.UTF8.GetByteCount(suffix) > VolumeCapacity.NameMax)
            {
                kept = kept[..^(kept.Length > 1 && char.IsLowSurrogate(kept[^1]) ? 2 : 1)];
            }

            name = kept + suffix;
        }

        return name;
    }

    private static string WithExtension(string imagePath, string extension)
    {
        string name = Path.GetFileName(imagePath);
        return name.EndsWith(Qcow2Extension, StringComparison.OrdinalIgnoreCase)
            ? string.Concat(name.AsSpan(0, name.Length - Qcow2Extension.Length), extension)
            : name + extension;
    }
}
