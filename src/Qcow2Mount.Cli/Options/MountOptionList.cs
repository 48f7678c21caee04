using Qcow2Mount.Core.Hosting;

namespace Qcow2Mount.Cli.Options;

/// <summary>
/// Sorts the items of a <c>-o</c> list (fstab form, fuse-notes §8) into our own settings, the platform's mount options
/// passed on (which ones, the <see cref="IMountHost"/> says), and items ignored because they do not apply to an image
/// mount. Unknown items are a usage error, so a typo fails before anything is opened rather than as the platform's
/// "unknown option".
/// </summary>
internal static class MountOptionList
{
    /// <summary>What mount(8)/mount.fuse3 may add that means nothing here (dev/suid come from mount.fuse3 as root).</summary>
    private static readonly HashSet<string> Ignored = new(StringComparer.Ordinal)
    {
        "defaults", "dev", "suid", "auto", "noauto", "user", "nouser", "users", "_netdev", "nofail",
    };

    /// <summary>Our settings accepted as <c>-o name[=value]</c> (underscores allowed for hyphens), by configuration key.</summary>
    private static readonly Dictionary<string, (string Key, bool HasValue)> OwnOptions = new(StringComparer.Ordinal)
    {
        ["ro"] = ("ReadOnly", false),
        ["format"] = ("Format", true),
        ["read-only"] = ("ReadOnly", false),
        ["cache-size"] = ("CacheSize", true),
        ["cache-clean-interval"] = ("CacheCleanInterval", true),
        ["no-backing"] = ("NoBacking", false),
        ["vhd"] = ("Vhd", false),
        ["allow-backing-device"] = ("AllowBackingDevice", false),
        ["verbose"] = ("Verbose", false),
        ["log"] = ("Log", true),
        ["snapshots"] = ("Snapshots", false),
        ["snapshot"] = ("Snapshot", true),
    };

    /// <summary>
    /// Splits <paramref name="list"/>: our settings go to <paramref name="settings"/> as configuration key → value,
    /// the platform's options to <paramref name="platformOptions"/>. "rw" sets ReadOnly to false.
    /// </summary>
    public static void Split(string? list, IDictionary<string, string> settings, ICollection<string> platformOptions, IMountHost host)
    {
        foreach (string raw in (list ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = raw.IndexOf('=', StringComparison.Ordinal);
            string name = eq < 0 ? raw : raw[..eq];
            string? value = eq < 0 ? null : raw[(eq + 1)..];
            string ownName = name.Replace('_', '-');

            if (name == "rw")
            {
                settings["ReadOnly"] = "false";
            }
            else if (OwnOptions.TryGetValue(ownName, out var own))
            {
                if (own.HasValue != (value is not null))
                {
                    throw new UsageException(own.HasValue ? $"mount option '{name}' needs a value ({name}=...)" : $"mount option '{name}' takes no value");
                }

                settings[own.Key] = value ?? "true";
            }
            else if (Ignored.Contains(raw) || name.StartsWith("x-", StringComparison.Ordinal) || name == "comment")
            {
                // Meaningful to mount(8) or systemd only.
            }
            else if (IsPlatformOption(raw, host))
            {
                platformOptions.Add(raw);
            }
            else
            {
                throw new UsageException($"unknown mount option '{raw}' (see 'qcow2mount mount --help')");
            }
        }
    }

    /// <summary>A platform option with a bad value (uid=x) is a usage error here, before anything is opened.</summary>
    private static bool IsPlatformOption(string option, IMountHost host)
    {
        try
        {
            return host.AcceptsOption(option);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }
}
