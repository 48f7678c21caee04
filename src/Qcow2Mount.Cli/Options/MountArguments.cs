using Qcow2Mount.Core.Hosting;

namespace Qcow2Mount.Cli.Options;

/// <summary>
/// The mount command line split into positional arguments and settings. Settings are normalised to
/// <c>--Key=value</c> for the command-line configuration provider (which cannot take bare flags itself).
/// </summary>
internal sealed class MountArguments
{
    /// <summary>Internal flag of the re-spawned background server: report readiness on stdout, then detach.</summary>
    public const string DaemonChildFlag = "--daemon-child";

    private static readonly Dictionary<string, string> Flags = new(StringComparer.Ordinal)
    {
        ["-f"] = "Foreground", ["--foreground"] = "Foreground",
        ["-r"] = "ReadOnly", ["--read-only"] = "ReadOnly",
        ["-v"] = "Verbose", ["--verbose"] = "Verbose",
        ["--no-backing"] = "NoBacking",
        ["--vhd"] = "Vhd",
        ["--allow-backing-device"] = "AllowBackingDevice",
        ["--snapshots"] = "Snapshots",
    };

    private static readonly Dictionary<string, string> Valued = new(StringComparer.Ordinal)
    {
        ["--format"] = "Format",
        ["--cache-size"] = "CacheSize",
        ["--cache-clean-interval"] = "CacheCleanInterval",
        ["--log"] = "Log",
        ["--max-threads"] = "MaxThreads",
        ["--snapshot"] = "Snapshot",
    };

    public List<string> Positionals { get; } = [];

    /// <summary>Settings in command-line order as <c>--Key=value</c> (later ones win).</summary>
    public List<string> Settings { get; } = [];

    public bool Help { get; private set; }

    public bool DaemonChild { get; private set; }

    /// <summary>Splits <paramref name="args"/>; <paramref name="host"/> says which <c>-o</c> items are platform mount options.</summary>
    public static MountArguments Parse(IReadOnlyList<string> args, IMountHost host)
    {
        var result = new MountArguments();
        var fuseOptions = new List<string>();
        bool optionsEnded = false;
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (optionsEnded || arg.Length < 2 || arg[0] != '-')
            {
                result.Positionals.Add(arg);
                continue;
            }

            string name = arg;
            string? inlineValue = null;
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.IndexOf('=', StringComparison.Ordinal) is int eq and > 0)
            {
                name = arg[..eq];
                inlineValue = arg[(eq + 1)..];
            }

            if (arg == "--")
            {
                optionsEnded = true;
            }
            else if (arg is "-h" or "--help")
            {
                result.Help = true;
            }
            else if (arg == DaemonChildFlag)
            {
                result.DaemonChild = true;
            }
            else if (Flags.TryGetValue(name, out string? flagKey) && inlineValue is null)
            {
                result.Settings.Add($"--{flagKey}=true");
            }
            else if (Valued.TryGetValue(name, out string? valueKey))
            {
                string value = inlineValue ?? (i + 1 < args.Count ? args[++i] : throw new UsageException($"option '{name}' needs a value"));
                result.Settings.Add($"--{valueKey}={value}");
            }
            else if (arg.StartsWith("-o", StringComparison.Ordinal) && !arg.StartsWith("--", StringComparison.Ordinal))
            {
                string list = arg.Length > 2 ? arg[2..] : (i + 1 < args.Count ? args[++i] : throw new UsageException("option '-o' needs a value"));
                var own = new Dictionary<string, string>(StringComparer.Ordinal);
                MountOptionList.Split(list, own, fuseOptions, host);
                result.Settings.AddRange(own.Select(kv => $"--{kv.Key}={kv.Value}"));
            }
            else
            {
                throw new UsageException($"unknown option '{arg}' (see 'qcow2mount mount --help')");
            }
        }

        if (fuseOptions.Count > 0)
        {
            result.Settings.Add("--Options=" + string.Join(',', fuseOptions));
        }

        return result;
    }
}
