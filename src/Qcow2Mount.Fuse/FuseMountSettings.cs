namespace Qcow2Mount.Fuse;

/// <summary>How <see cref="FuseHost"/> mounts: where, under which name, and which libfuse options it passes on.</summary>
internal sealed record FuseMountSettings
{
    public required string MountPoint { get; init; }

    /// <summary>Shown as the source in /proc/mounts (the first image's path).</summary>
    public required string FsName { get; init; }

    public bool ReadOnly { get; init; }

    /// <summary>Further libfuse <c>-o</c> options, already checked (allow_other, auto_unmount, noatime, …).</summary>
    public IReadOnlyList<string> Options { get; init; } = [];

    /// <summary>Worker threads of <c>fuse_loop_mt</c> (libfuse's default is 10).</summary>
    public uint MaxThreads { get; init; } = 10;

    /// <summary>Path or soname of libfuse; null = <c>libfuse3.so.3</c>.</summary>
    public string? LibraryPath { get; init; }
}
