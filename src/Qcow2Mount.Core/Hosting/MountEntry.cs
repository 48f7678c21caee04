namespace Qcow2Mount.Core.Hosting;

/// <summary>What is mounted at a mount point: its source, the platform's file system type, and whether it is one of ours.</summary>
public sealed record MountEntry(string MountPoint, string Source, string FileSystemType, bool IsOurs);
