namespace Qcow2Mount.TestSupport.Wine;

/// <summary>A registry key read with <c>reg query</c>: its values and the full paths of its direct subkeys.</summary>
public sealed record WineRegistryKey(string Path, IReadOnlyList<WineRegistryValue> Values, IReadOnlyList<string> Subkeys)
{
    /// <summary>The data of the value <paramref name="name"/> ("" = the default value), or null when it has none.</summary>
    public string? this[string name] =>
        Values.FirstOrDefault(v => string.Equals(v.Name, name, StringComparison.OrdinalIgnoreCase))?.Data;

    /// <summary>
    /// Parses <c>reg query KEY</c> output: the key's line followed by its values (indented by four spaces), then one line
    /// per subkey. A key without values has no line of its own (Wine 8.0), so a line is the key's when values follow it.
    /// </summary>
    public static WineRegistryKey Parse(string path, string output)
    {
        var values = new List<WineRegistryValue>();
        var subkeys = new List<string>();
        string[] lines = output.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToArray();
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            if (!line.StartsWith("    ", StringComparison.Ordinal))
            {
                bool valuesFollow = i + 1 < lines.Length && lines[i + 1].StartsWith("    ", StringComparison.Ordinal);
                if (!valuesFollow)
                {
                    subkeys.Add(line);
                }

                continue;
            }

            // "    NAME    TYPE    DATA"; the data may be empty (and its separator then trimmed away).
            string[] parts = line[4..].Split("    ", 3);
            if (parts.Length >= 2)
            {
                string name = parts[0] == "(Default)" ? string.Empty : parts[0];
                values.Add(new WineRegistryValue(name, parts[1], parts.Length == 3 ? parts[2] : string.Empty));
            }
        }

        return new WineRegistryKey(path, values, subkeys);
    }

    /// <summary>
    /// Parses <c>reg query KEY /s</c> output: one block per key (its full name, then its values), keyed by the path below
    /// <paramref name="path"/> ("" = the key itself, e.g. <c>shell\open\command</c>), case-insensitively.
    /// </summary>
    public static IReadOnlyDictionary<string, WineRegistryKey> ParseTree(string path, string output)
    {
        string root = FullName(path);
        var keys = new Dictionary<string, WineRegistryKey>(StringComparer.OrdinalIgnoreCase);
        string[] lines = output.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        for (int i = 0; i < lines.Length; i++)
        {
            if (lines[i].Trim().Length == 0 || lines[i].StartsWith("    ", StringComparison.Ordinal))
            {
                continue;
            }

            int end = i + 1;
            while (end < lines.Length && lines[end].StartsWith("    ", StringComparison.Ordinal))
            {
                end++;
            }

            string name = lines[i];
            string relative = name.StartsWith(root, StringComparison.OrdinalIgnoreCase) ? name[root.Length..].TrimStart('\\') : name;
            keys[relative] = Parse(name, string.Join('\n', lines[i..end])) with { Subkeys = [] };
            i = end - 1;
        }

        return keys;
    }

    /// <summary>HKLM\x -> HKEY_LOCAL_MACHINE\x (reg prints full root names).</summary>
    private static string FullName(string path)
    {
        string[] parts = path.Split('\\', 2);
        string hive = parts[0].ToUpperInvariant() switch
        {
            "HKLM" => "HKEY_LOCAL_MACHINE",
            "HKCU" => "HKEY_CURRENT_USER",
            "HKCR" => "HKEY_CLASSES_ROOT",
            "HKU" => "HKEY_USERS",
            "HKCC" => "HKEY_CURRENT_CONFIG",
            _ => parts[0],
        };
        return parts.Length == 2 ? hive + "\\" + parts[1] : hive;
    }
}
