using System.Globalization;
using Qcow2Mount.Cli.Options;
using Qcow2Mount.Core;
using Qcow2Mount.Core.Hosting;
using Qcow2Mount.Core.Vfs;

namespace Qcow2Mount.Cli.Mount;

/// <summary>A checked mount request: absolute image paths, parsed sizes, the image open options and the platform's <see cref="MountSpec"/>.</summary>
internal sealed record MountRequest
{
    public required IReadOnlyList<string> Images { get; init; }

    /// <summary>Format of every image ("qcow2" or "raw"); null = probe each (a probed raw image gets first-sector protection).</summary>
    public string? Format { get; init; }

    public required ImageOpenOptions ImageOptions { get; init; }

    public required MountSpec Spec { get; init; }

    public bool Foreground { get; init; }

    /// <summary>Also show each image as a fixed VHD (IMAGE.vhd).</summary>
    public bool Vhd { get; init; }
    /// <summary>Internal snapshots shown as files (--snapshots, --snapshot NAME).</summary>
    public SnapshotMount Snapshots { get; init; } = SnapshotMount.None;

    public string? LogFile { get; init; }

    /// <summary>IMAGE... MOUNTDIR plus the bound configuration; <paramref name="host"/> names the mount point and takes the platform options.</summary>
    public static MountRequest From(IReadOnlyList<string> positionals, MountConfig config, IMountHost host)
    {
        if (positionals.Count < 2)
        {
            throw new UsageException("expected IMAGE [IMAGE...] MOUNTDIR (see 'qcow2mount mount --help')");
        }

        var own = new Dictionary<string, string>(StringComparer.Ordinal);
        var platformOptions = new List<string>();
        MountOptionList.Split(config.Options, own, platformOptions, host);
        bool readOnly = own.TryGetValue("ReadOnly", out string? ro) ? ro == "true" || config.ReadOnly : config.ReadOnly;
        var snapshots = SnapshotsOf(config, own);
        if (config.Vhd && snapshots.Only is not null)
        {
            throw new UsageException("--vhd shows the live disks as VHDs: it cannot be combined with --snapshot NAME");
        }
        readOnly |= snapshots.Only is not null;

        int cleanInterval = config.CacheCleanInterval ?? 600;
        if (cleanInterval < 0)
        {
            throw new UsageException("--cache-clean-interval must be 0 or more seconds");
        }

        if (config.Format is { } format && format is not ("qcow2" or "raw"))
        {
            throw new UsageException($"unknown image format '{format}' (--format qcow2 or raw)");
        }

        string[] images = positionals.Take(positionals.Count - 1).Select(Path.GetFullPath).ToArray();
        CheckDistinct(images);
        bool verbose = config.Verbose;
        return new MountRequest
        {
            Images = images,
            Format = config.Format,
            Foreground = config.Foreground,
            Vhd = config.Vhd,
            Snapshots = snapshots,
            LogFile = config.Log is { Length: > 0 } log ? Path.GetFullPath(log) : null,
            Spec = new MountSpec
            {
                MountPoint = host.NormalizeMountPoint(positionals[^1]),
                ReadOnly = readOnly,
                Options = platformOptions.Distinct(StringComparer.Ordinal).ToArray(),
                Threads = config.MaxThreads is > 0 and uint threads ? threads : 10,
                NativeLibrary = config.Libfuse is { Length: > 0 } lib ? lib : null,
            },
            ImageOptions = new ImageOpenOptions
            {
                ReadOnly = readOnly,
                CacheSize = config.CacheSize is { Length: > 0 } size ? ParseSize(size) : 0,
                CacheCleanIntervalSeconds = cleanInterval,
                FollowBacking = !config.NoBacking,
                AllowBackingDevice = config.AllowBackingDevice,
                Lock = true,
                Log = verbose ? message => Console.Error.WriteLine($"qcow2mount: {message}") : null,
            },
        };
    }

    /// <summary>--snapshots shows every snapshot beside the live disks; --snapshot NAME only that one, read-only; not both.</summary>
    private static SnapshotMount SnapshotsOf(MountConfig config, Dictionary<string, string> own)
    {
        bool all = config.Snapshots || (own.TryGetValue("Snapshots", out string? s) && s == "true");
        string? only = own.TryGetValue("Snapshot", out string? o) ? o : config.Snapshot;
        if (only is null)
        {
            return all ? new SnapshotMount { All = true } : SnapshotMount.None;
        }

        if (all)
        {
            throw new UsageException("--snapshots and --snapshot NAME exclude each other");
        }

        try
        {
            return new SnapshotMount { Only = SnapshotSelector.Parse(only) };
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"--snapshot: {e.Message}");
        }
    }

    /// <summary>
    /// One file given twice (by the same or another path, a symlink or a hard link) would be opened twice and refuse
    /// itself as "in use by another process": say what really happened.
    /// </summary>
    private static void CheckDistinct(string[] images)
    {
        var seen = new Dictionary<Core.Storage.FileIdentity, string>();
        foreach (string image in images)
        {
            if (Core.Storage.FileIdentity.Of(image) is not { } identity)
            {
                continue; // missing: the preflight says so
            }

            if (seen.TryGetValue(identity, out string? first))
            {
                throw new UsageException(first == image
                    ? $"{image}: image given twice"
                    : $"{image}: image given twice (also as {first}, the same file)");
            }

            seen.Add(identity, image);
        }
    }

    /// <summary>Bytes with an optional binary suffix: 512, 64k, 32M, 1G (also KiB/MiB/GiB and K/m/g).</summary>
    public static long ParseSize(string text)
    {
        string t = text.Trim();
        long unit = 1;
        string suffix = new(t.SkipWhile(c => char.IsAsciiDigit(c)).ToArray());
        string digits = t[..(t.Length - suffix.Length)];
        switch (suffix.ToUpperInvariant())
        {
            case "": case "B": unit = 1; break;
            case "K": case "KB": case "KIB": unit = 1L << 10; break;
            case "M": case "MB": case "MIB": unit = 1L << 20; break;
            case "G": case "GB": case "GIB": unit = 1L << 30; break;
            default: throw new UsageException($"bad size '{text}' (use bytes with an optional k, M or G suffix)");
        }

        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long value) || value > long.MaxValue / unit)
        {
            throw new UsageException($"bad size '{text}' (use bytes with an optional k, M or G suffix)");
        }

        return value * unit;
    }
}
