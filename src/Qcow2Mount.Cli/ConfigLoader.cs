using System.Collections;
using Microsoft.Extensions.Configuration;
using Qcow2Mount.Cli.Options;

namespace Qcow2Mount.Cli;

/// <summary>
/// Builds the configuration layers, lowest first: /etc/qcow2mount.json, ~/.config/qcow2mount/config.json,
/// environment variables QCOW2MOUNT_NAME (underscores inside NAME are ignored: QCOW2MOUNT_CACHE_SIZE = CacheSize),
/// then the command line (already normalised to <c>--Key=value</c>). Binding uses the source generator (no reflection).
/// </summary>
internal static class ConfigLoader
{
    public const string EnvironmentPrefix = "QCOW2MOUNT_";
    public const string SystemFile = "/etc/qcow2mount.json";

    public static string UserFile => Path.Combine(
        Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config"),
        "qcow2mount",
        "config.json");

    public static MountConfig Load(IEnumerable<string> commandLine)
    {
        try
        {
            var configuration = new ConfigurationBuilder()
                .AddJsonFile(SystemFile, optional: true, reloadOnChange: false)
                .AddJsonFile(UserFile, optional: true, reloadOnChange: false)
                .AddInMemoryCollection(EnvironmentLayer())
                .AddCommandLine(commandLine.ToArray())
                .Build();
            return configuration.Get<MountConfig>() ?? new MountConfig();
        }
        catch (Exception e) when (e is InvalidOperationException or InvalidDataException or FormatException)
        {
            throw new UsageException($"bad configuration: {e.Message}");
        }
    }

    private static Dictionary<string, string?> EnvironmentLayer()
    {
        var layer = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            if (e.Key is string name && name.StartsWith(EnvironmentPrefix, StringComparison.Ordinal))
            {
                layer[name[EnvironmentPrefix.Length..].Replace("_", "", StringComparison.Ordinal)] = e.Value as string;
            }
        }

        return layer;
    }
}
