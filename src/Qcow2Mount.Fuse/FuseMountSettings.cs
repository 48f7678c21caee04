namespace Qcow2Mount.Fuse;

/// <summary>How <see cref="FuseHost"/> mounts: where, under which name, which mount options it passes on, how many workers serve.</summary>
internal sealed record FuseMountSettings
{
    public required string MountPoint { get; init; }

    /// <summary>Shown as the source in /proc/mounts (the first image's path).</summary>
    public required string FsName { get; init; }

    public bool ReadOnly { get; init; }

    /// <summary>Further libfuse <c>-o</c> options, already checked (allow_other, auto_unmount, noatime, …).</summary>
    public IReadOnlyList<string> Options { get; init; } = [];

    /// <summary>
    /// Worker threads, each answering one request at a time (10, libfuse's default: enough requests in flight for
    /// reads that miss the page cache at QD16). Only <see cref="Cores"/> of them serve at once between their waits on
    /// the disk, so more workers than cores do not stretch the tail when everything is cached.
    /// </summary>
    public uint MaxThreads { get; init; } = 10;

    /// <summary>
    /// How many workers serve at once between their waits on the disk (<see cref="WorkerTurns"/>): the cores this
    /// process may run on. With as many workers or fewer, every worker serves at will.
    /// </summary>
    public uint Cores { get; init; } = (uint)Environment.ProcessorCount;

    /// <summary>
    /// Take FUSE over io_uring, laid out so, when the kernel offers it (kernel 6.14+, <c>fuse.enable_uring=Y</c>): one
    /// system call per request instead of a read and a write on /dev/fuse. Null, or not offered: /dev/fuse.
    /// </summary>
    public Uring.FuseUringOptions? IoUring { get; init; } = new();

    /// <summary>Path or soname of libfuse; null = <c>libfuse3.so.3</c>.</summary>
    public string? LibraryPath { get; init; }
}
