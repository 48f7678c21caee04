namespace Qcow2Mount.Core.Vfs;

/// <summary>
/// Which internal snapshots a mount shows as read-only files beside (or instead of) the live disks: none, every one
/// (<see cref="All"/>: <c>--snapshots</c>), or only the one <see cref="Only"/> selects in each image, without the live
/// disks (<c>--snapshot NAME</c>: the mount is read-only).
/// </summary>
public sealed record SnapshotMount
{
    public static SnapshotMount None { get; } = new();

    public bool All { get; init; }

    public SnapshotSelector? Only { get; init; }
}
