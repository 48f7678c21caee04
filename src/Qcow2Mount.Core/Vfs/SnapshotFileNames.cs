using System.Text;
using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Vfs;

/// <summary>
/// The naming rule of snapshot files: snapshot S of the image shown as <c>NAME.raw</c> is <c>NAME@S.raw</c>. Characters
/// no file name may hold on Linux or Windows — <c>/ \ : * ? " &lt; &gt; |</c>, control characters (NUL included) — and
/// <c>%</c> itself are written <c>%XX</c> (two upper-case hex digits of the character), the same on every platform, so
/// <c>a/b</c> is <c>NAME@a%2Fb.raw</c> and <c>50%</c> is <c>NAME@50%25.raw</c>. A name that would pass
/// <see cref="VolumeCapacity.NameMax"/> bytes (UTF-8) is cut and ends in <c>~ID</c> (the snapshot's ID, escaped alike).
/// A clash (two snapshots of one name, or of names that differ only in case) is resolved as for images: <c>-2</c>,
/// <c>-3</c>, … before <c>.raw</c>, comparing names ignoring case on every platform (<see cref="ImageDirectory.AddSnapshot"/>).
/// One rule everywhere, so an image shows the same snapshot file names on Linux and Windows. Windows' other rules
/// need no escape: a name never ends in a dot or a space (it ends in <c>.raw</c>); a reserved device name (CON, PRN,
/// AUX, NUL, COM0-9, LPT0-9, also followed by an extension) is matched on the part before the first dot, which here
/// always starts with <c>NAME@</c>, so <c>disk@CON.raw</c> is an ordinary file; and 255 UTF-8 bytes are never more
/// than Windows' 255 UTF-16 units per name.
/// </summary>
public static class SnapshotFileNames
{
    private const string RawExtension = ".raw";

    /// <summary>The name before any clash is resolved; <paramref name="liveName"/> is the image's raw file name.</summary>
    public static string For(string liveName, SnapshotTableEntry snapshot)
    {
        string stem = liveName.EndsWith(RawExtension, StringComparison.Ordinal) ? liveName[..^RawExtension.Length] : liveName;
        string name = $"{stem}@{Escape(snapshot.Name)}{RawExtension}";
        if (Encoding.UTF8.GetByteCount(name) <= VolumeCapacity.NameMax)
        {
            return name;
        }

        string tail = $"~{Escape(snapshot.Id)}{RawExtension}";
        string head = $"{stem}@{Escape(snapshot.Name)}";
        int budget = VolumeCapacity.NameMax - Encoding.UTF8.GetByteCount(tail);
        var cut = new StringBuilder();
        int bytes = 0;
        for (int i = 0; i < head.Length;)
        {
            // Whole escapes and whole surrogate pairs only: a cut never leaves half a character.
            int step = head[i] == '%' ? Math.Min(3, head.Length - i) : char.IsHighSurrogate(head[i]) && i + 1 < head.Length ? 2 : 1;
            int size = Encoding.UTF8.GetByteCount(head.AsSpan(i, step));
            if (bytes + size > budget)
            {
                break;
            }

            cut.Append(head, i, step);
            bytes += size;
            i += step;
        }

        return cut + tail;
    }

    /// <summary>Writes the characters no file name may hold, and <c>%</c>, as <c>%XX</c>.</summary>
    public static string Escape(string snapshotName)
    {
        var sb = new StringBuilder(snapshotName.Length);
        foreach (char c in snapshotName)
        {
            if (c < 0x20 || c == 0x7F || c is '%' or '/' or '\\' or ':' or '*' or '?' or '"' or '<' or '>' or '|')
            {
                sb.Append('%').Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append(c);
            }
        }

        return sb.ToString();
    }
}
