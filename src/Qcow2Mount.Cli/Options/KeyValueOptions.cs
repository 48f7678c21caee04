namespace Qcow2Mount.Cli.Options;

/// <summary>
/// qemu-img's <c>-o key=value,key=value</c> lists: a doubled comma is a literal comma; several <c>-o</c> merge,
/// later values winning. Booleans accept on/off, yes/no, true/false.
/// </summary>
internal sealed class KeyValueOptions
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly List<string> _order = new();

    public IReadOnlyList<string> Keys => _order;

    public static KeyValueOptions Parse(IEnumerable<string> lists)
    {
        var o = new KeyValueOptions();
        foreach (string list in lists)
        {
            foreach (string item in Split(list))
            {
                if (item.Length == 0)
                {
                    continue;
                }

                int eq = item.IndexOf('=', StringComparison.Ordinal);
                string key = eq < 0 ? item : item[..eq];
                string value = eq < 0 ? "on" : item[(eq + 1)..];
                if (!o._values.ContainsKey(key))
                {
                    o._order.Add(key);
                }

                o._values[key] = value;
            }
        }

        return o;
    }

    public bool Contains(string key) => _values.ContainsKey(key);

    public string? Get(string key) => _values.TryGetValue(key, out var v) ? v : null;

    public void Set(string key, string value)
    {
        if (!_values.ContainsKey(key))
        {
            _order.Add(key);
        }

        _values[key] = value;
    }

    public bool? GetBool(string key)
    {
        string? v = Get(key);
        return v switch
        {
            null => null,
            "on" or "yes" or "true" or "y" => true,
            "off" or "no" or "false" or "n" => false,
            _ => throw new UsageException($"Parameter '{key}' expects 'on' or 'off'"),
        };
    }

    private static IEnumerable<string> Split(string list)
    {
        var current = new System.Text.StringBuilder();
        for (int i = 0; i < list.Length; i++)
        {
            if (list[i] == ',')
            {
                if (i + 1 < list.Length && list[i + 1] == ',')
                {
                    current.Append(',');
                    i++;
                    continue;
                }

                yield return current.ToString();
                current.Clear();
                continue;
            }

            current.Append(list[i]);
        }

        yield return current.ToString();
    }
}
