namespace Qcow2Mount.Cli.Options;

/// <summary>
/// getopt-style parsing for the qemu-img-like verbs: short options (<c>-f qcow2</c>, <c>-fqcow2</c>, clustered flags
/// <c>-pc</c>), long options (<c>--output=json</c>, <c>--output json</c>), <c>--</c> ends options; options and
/// positionals may be mixed. Unknown options are usage errors.
/// </summary>
internal sealed class ArgumentReader
{
    private readonly List<(string Name, string? Value)> _options = new();
    private readonly List<string> _positionals = new();

    private ArgumentReader()
    {
    }

    public IReadOnlyList<string> Positionals => _positionals;

    /// <summary>Every option as given, in command-line order (verbs whose options are steps, such as bitmap).</summary>
    public IReadOnlyList<(string Name, string? Value)> InOrder => _options;

    /// <summary>Parses <paramref name="args"/>; <paramref name="spec"/> maps each option spelling (<c>-f</c>, <c>--output</c>) to whether it takes a value.</summary>
    public static ArgumentReader Parse(string verb, IReadOnlyList<string> args, IReadOnlyDictionary<string, bool> spec)
    {
        var r = new ArgumentReader();
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a == "--")
            {
                r._positionals.AddRange(args.Skip(i + 1));
                break;
            }

            if (a.StartsWith("--", StringComparison.Ordinal))
            {
                int eq = a.IndexOf('=', StringComparison.Ordinal);
                string name = eq < 0 ? a : a[..eq];
                if (!spec.TryGetValue(name, out bool takesValue))
                {
                    throw new UsageException($"{verb}: unrecognized option '{name}' (see 'qcow2mount {verb} --help')");
                }

                if (!takesValue)
                {
                    if (eq >= 0)
                    {
                        throw new UsageException($"{verb}: option '{name}' takes no value");
                    }

                    r._options.Add((name, null));
                    continue;
                }

                string? value = eq >= 0 ? a[(eq + 1)..] : (i + 1 < args.Count ? args[++i] : null);
                r._options.Add((name, value ?? throw new UsageException($"{verb}: option '{name}' needs a value")));
            }
            else if (a.Length > 1 && a[0] == '-' && !IsNumber(a))
            {
                for (int k = 1; k < a.Length; k++)
                {
                    string name = "-" + a[k];
                    if (!spec.TryGetValue(name, out bool takesValue))
                    {
                        throw new UsageException($"{verb}: invalid option -- '{a[k]}' (see 'qcow2mount {verb} --help')");
                    }

                    if (!takesValue)
                    {
                        r._options.Add((name, null));
                        continue;
                    }

                    string? value = k + 1 < a.Length ? a[(k + 1)..] : (i + 1 < args.Count ? args[++i] : null);
                    r._options.Add((name, value ?? throw new UsageException($"{verb}: option '{name}' needs a value")));
                    break;
                }
            }
            else
            {
                r._positionals.Add(a);
            }
        }

        return r;
    }

    public bool Has(string name) => _options.Exists(o => o.Name == name);

    /// <summary>True when any of the spellings was given (e.g. <c>-h</c>, <c>--help</c>).</summary>
    public bool HasAny(params string[] names) => _options.Exists(o => Array.IndexOf(names, o.Name) >= 0);

    /// <summary>The last value given for any of the spellings, or null.</summary>
    public string? Last(params string[] names) => _options.FindLast(o => Array.IndexOf(names, o.Name) >= 0).Value;

    public IEnumerable<string> All(string name) => _options.Where(o => o.Name == name).Select(o => o.Value!);

    /// <summary>Prints <paramref name="help"/> when -h/--help was given; true means the verb is done.</summary>
    public bool PrintedHelp(string help)
    {
        if (!HasAny("-h", "--help"))
        {
            return false;
        }

        Console.Write(help);
        return true;
    }

    /// <summary>The one positional argument, an image file that must exist.</summary>
    public string SingleExistingImage(string verb)
    {
        if (_positionals.Count != 1)
        {
            throw new UsageException(_positionals.Count == 0 ? $"{verb}: expecting an image file name" : $"{verb}: unexpected argument '{_positionals[1]}'");
        }

        return ExistingFile(_positionals[0]);
    }

    /// <summary>Refuses a missing input file with qemu-img's words.</summary>
    public static string ExistingFile(string path) =>
        File.Exists(path) ? path : throw new UsageException($"Could not open '{path}': No such file or directory");

    /// <summary>Negative sizes such as <c>-1G</c> for resize are positionals, not options.</summary>
    private static bool IsNumber(string a) => a.Length > 1 && char.IsAsciiDigit(a[1]);
}
