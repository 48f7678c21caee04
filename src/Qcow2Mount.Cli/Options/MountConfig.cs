namespace Qcow2Mount.Cli.Options;

/// <summary>
/// The mount settings as bound from configuration (command line over QCOW2MOUNT_* environment variables over
/// /etc/qcow2mount.json and ~/.config/qcow2mount/config.json). Property names are the configuration keys
/// (case-insensitive); values stay strings where the user may write suffixes, and are checked in <see cref="Mount.MountRequest"/>.
/// </summary>
internal sealed class MountConfig
{
    public bool ReadOnly { get; set; }

    /// <summary>Format of every image: qcow2 or raw (default: probe each).</summary>
    public string? Format { get; set; }

    /// <summary>Metadata cache size: bytes with an optional k/M/G suffix (binary units).</summary>
    public string? CacheSize { get; set; }

    public int? CacheCleanInterval { get; set; }

    public bool NoBacking { get; set; }

    /// <summary>Also show each image as IMAGE.vhd, a fixed VHD (the raw bytes and a read-only footer).</summary>
    public bool Vhd { get; set; }

    public bool AllowBackingDevice { get; set; }

    public bool Verbose { get; set; }

    /// <summary>Also show every internal snapshot as a read-only file NAME@SNAPSHOT.raw.</summary>
    public bool Snapshots { get; set; }

    /// <summary>Show only this internal snapshot of each image (ID_OR_NAME or snapshot.id=,snapshot.name=), read-only.</summary>
    public string? Snapshot { get; set; }

    public bool Foreground { get; set; }

    /// <summary>Comma-separated mount options, as after <c>-o</c> (several <c>-o</c> are joined).</summary>
    public string? Options { get; set; }

    /// <summary>File that receives the background server's messages (otherwise they are discarded once it is serving).</summary>
    public string? Log { get; set; }

    /// <summary>Path or soname of libfuse3 (default libfuse3.so.3).</summary>
    public string? Libfuse { get; set; }

    public uint? MaxThreads { get; set; }
}
