using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Tools;

/// <summary>
/// qemu-img snapshot on a qcow2 file: list (a shared read-only open, or no lock with <c>forceShare</c>), and create,
/// delete, apply (a read-write open with the write lock, so a mounted image or one QEMU holds is refused).
/// </summary>
public static class ImageSnapshots
{
    public static IReadOnlyList<SnapshotInfo> List(string path, bool forceShare)
    {
        using var image = Qcow2Image.Open(path, new ImageOpenOptions { ReadOnly = true, FollowBacking = false, Lock = !forceShare });
        return image.Snapshots.Select(ImageInfo.ToInfo).ToList();
    }

    public static SnapshotTableEntry Create(string path, string name)
    {
        using var image = OpenForChange(path);
        return image.SnapshotManager().Create(name, DateTimeOffset.UtcNow);
    }

    public static void Delete(string path, string name)
    {
        using var image = OpenForChange(path);
        image.SnapshotManager().Delete(name);
    }

    public static void Apply(string path, string idOrName)
    {
        using var image = OpenForChange(path);
        image.RefuseSnapshotApplyWithBitmaps();
        image.SnapshotManager().Apply(idOrName);
    }

    private static Qcow2Image OpenForChange(string path) =>
        Qcow2Image.Open(path, new ImageOpenOptions { FollowBacking = false, CacheCleanIntervalSeconds = 0 });
}
