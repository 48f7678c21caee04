using System.Globalization;

namespace Qcow2Mount.TestSupport;

/// <summary>
/// Images with internal snapshots made by QEMU at test time (<c>qemu-img snapshot -c</c>, with qemu-io writes before,
/// between and after them), one per feature a snapshot read must get right; each names its snapshots and the virtual
/// size each had when it was taken.
/// </summary>
public static class SnapshotImages
{
    public const long M = 1L << 20;

    public static IEnumerable<string> Kinds => ["standard-l2", "extended-l2", "compressed", "backing", "resized"];

    /// <summary>Builds the image of <paramref name="kind"/> in <paramref name="directory"/>.</summary>
    public static SnapshotImage Build(string directory, string kind)
    {
        RequiredTools.Require("qemu-img");
        RequiredTools.Require("qemu-io");
        string path = Path.Combine(directory, kind + ".qcow2");
        var snapshots = new List<(string Name, long Size)>();
        void Snap(string name, long size)
        {
            QemuTools.CreateSnapshot(path, name);
            snapshots.Add((name, size));
        }

        switch (kind)
        {
            case "standard-l2":
                QemuTools.Create(path, 4 * M);
                QemuTools.QemuIo(path, "write -P 0x11 0 4M");
                Snap("s1", 4 * M);
                QemuTools.QemuIo(path, "write -P 0x22 1M 64k", "write -P 0x23 3M 5k", "write -z 2M 128k");
                Snap("a/b%c", 4 * M);
                QemuTools.QemuIo(path, "write -P 0x33 0 512k", "discard 1M 1M");
                break;
            case "extended-l2":
                QemuTools.Create(path, 4 * M, new Dictionary<string, string> { ["extended_l2"] = "on", ["cluster_size"] = "131072" });
                QemuTools.QemuIo(path, "write -P 0x11 0 4k", "write -P 0x12 1M 8k");
                Snap("s1", 4 * M);
                QemuTools.QemuIo(path, "write -P 0x22 8k 4k", "write -z 0 4k", "write -P 0x24 1028k 2k");
                Snap("s2", 4 * M);
                QemuTools.QemuIo(path, "write -P 0x33 2k 1k", "write -P 0x34 1M 128k");
                break;
            case "compressed":
                QemuTools.Create(path, 2 * M);
                QemuTools.QemuIo(path, "write -c -P 0x44 0 64k", "write -c -P 0x45 1M 64k");
                Snap("s1", 2 * M);
                QemuTools.QemuIo(path, "write -P 0x55 0 4k");
                Snap("s2", 2 * M);
                QemuTools.QemuIo(path, "write -P 0x56 1M 64k");
                break;
            case "backing":
                string basePath = Path.Combine(directory, "base.qcow2");
                QemuTools.Create(basePath, 4 * M);
                QemuTools.QemuIo(basePath, "write -P 0x66 0 4M");
                QemuTools.CreateOverlay(path, basePath, "qcow2");
                QemuTools.QemuIo(path, "write -P 0x77 1M 64k");
                Snap("s1", 4 * M);
                QemuTools.QemuIo(path, "write -P 0x88 0 2M", "write -z 3M 64k");
                Snap("s2", 4 * M);
                QemuTools.QemuIo(path, "write -P 0x99 3M 1M");
                break;
            case "resized":
                QemuTools.Create(path, 1 * M);
                QemuTools.QemuIo(path, "write -P 0xaa 0 1M");
                Snap("small", 1 * M);
                QemuTools.QemuImg("resize", path, (3 * M).ToString(CultureInfo.InvariantCulture));
                QemuTools.QemuIo(path, "write -P 0xbb 512k 2M");
                Snap("big", 3 * M);
                QemuTools.QemuIo(path, "write -P 0xcc 0 3M");
                break;
            default:
                throw new ArgumentException($"unknown kind {kind}", nameof(kind));
        }

        return new SnapshotImage(path, snapshots);
    }

    /// <summary>
    /// What QEMU reads of snapshot <paramref name="name"/> (<c>qemu-img convert -U -l snapshot.name=NAME -O raw</c>)
    /// cut to <paramref name="size"/>: QEMU's temporary snapshot load keeps the live disk's size, so its output of a
    /// snapshot taken before the disk grew is longer than the snapshot.
    /// </summary>
    public static byte[] QemuSnapshotRaw(string image, string name, long size)
    {
        string raw = image + "." + Guid.NewGuid().ToString("N") + ".oracle";
        try
        {
            QemuTools.QemuImg("convert", "-U", "-l", "snapshot.name=" + name.Replace(",", ",,", StringComparison.Ordinal), "-O", "raw", image, raw);
            var bytes = File.ReadAllBytes(raw);
            return size <= bytes.Length ? bytes[..(int)size] : throw new InvalidOperationException($"qemu-img wrote {bytes.Length} bytes of snapshot {name}, less than its size {size}");
        }
        finally
        {
            File.Delete(raw);
        }
    }
}

/// <summary>An image and its snapshots in table order, with the virtual size each had when taken.</summary>
public sealed record SnapshotImage(string Path, IReadOnlyList<(string Name, long Size)> Snapshots);
