using Qcow2Mount.Fuse;

namespace Qcow2Mount.Cli;

/// <summary>
/// Sorts the items of a <c>-o</c> list (fstab form, fuse-notes §8) into our own settings, libfuse options passed on,
/// and items ignored because they do not apply to a FUSE image mount. Unknown items are a usage error, so a typo
/// fails before anything is opened rather than as libfuse's "unknown option".
/// </summary>
internal static class MountOptionList
{
    /// <summary>Accepted by fuse_new in libfuse 3.14 and meaningful here (fuse-notes §7).</summary>
    private static readonly HashSet<string> FuseFlags = new(StringComparer.Ordinal)
    {
        "allow_other", "allow_root", "auto_unmount", "default_permissions",
        "atime", "noatime", "sync", "async", "dirsync", "nodev", "nosuid", "exec", "noexec",
    };

    private static readonly HashSet<string> FuseValued = new(StringComparer.Ordinal) { "uid", "gid", "umask", "max_read" };

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
        ["allow-backing-device"] = ("AllowBackingDevice", false),
        ["verbose"] = ("Verbose", false),
        ["log"] = ("Log", true),
    };

    /// <summary>
    /// Splits <paramref name="list"/>: our settings go to <paramref name="settings"/> as configuration key → value,
    /// libfuse options to <paramref name="fuseOptions"/>. "rw" sets ReadOnly to false.
    /// </summary>
    public static void Split(string? list, IDictionary<string, string> settings, ICollection<string> fuseOptions)
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
            else if ((value is null && FuseFlags.Contains(name)) || (value is not null && FuseValued.Contains(name)))
            {
                CheckOwnerOption(raw, name);
                fuseOptions.Add(raw);
            }
            else
            {
                throw new UsageException($"unknown mount option '{raw}' (see 'qcow2mount mount --help')");
            }
        }
    }

    /// <summary>uid=, gid= and umask= are applied by the FUSE host; a bad value is a usage error here, before anything is opened.</summary>
    private static void CheckOwnerOption(string option, string name)
    {
        if (name is "uid" or "gid" or "umask")
        {
            try
            {
                _ = NodeOwner.FromOptions([option], 0, 0, out _);
            }
            catch (FuseMountException e)
            {
                throw new UsageException(e.Message);
            }
        }
    }
}
