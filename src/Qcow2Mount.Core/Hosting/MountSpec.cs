namespace Qcow2Mount.Core.Hosting;

/// <summary>Where and how to mount, in terms every platform shares; the images themselves come as an <see cref="Vfs.IVirtualFileSystem"/>.</summary>
public sealed record MountSpec
{
    /// <summary>From <see cref="IMountHost.NormalizeMountPoint"/>.</summary>
    public required string MountPoint { get; init; }

    public bool ReadOnly { get; init; }

    /// <summary>Platform mount options, each accepted by <see cref="IMountHost.AcceptsOption"/>.</summary>
    public IReadOnlyList<string> Options { get; init; } = [];

    /// <summary>Threads that serve requests (FUSE workers, WinFsp dispatcher threads).</summary>
    public uint Threads { get; init; } = 10;

    /// <summary>Path or name of the platform's mount library (libfuse3, the WinFsp DLL); null for the usual one.</summary>
    public string? NativeLibrary { get; init; }
}
