using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Conformance;

/// <summary>How the read-matrix image gets its compressed clusters or snapshot, beyond the common content.</summary>
public enum RecipeExtra
{
    None,
    /// <summary><c>qemu-io write -c</c> into empty clusters, then a partial overwrite of one of them.</summary>
    CompressedWrites,
    /// <summary>The common content written plainly, then <c>qemu-img convert -c -O qcow2</c>, then partial overwrites.</summary>
    ConvertCompressed,
    /// <summary><c>qemu-img snapshot -c</c> after the common content, then overwrites, zero writes and discards.</summary>
    Snapshot,
}

/// <summary>
/// One image of the read-conformance matrix, made by QEMU at test time: created with <see cref="Options"/>, then the
/// common content (partial, whole and multi-cluster writes, zero writes with and without unmap, discards, the disk end),
/// then <see cref="Extra"/>.
/// </summary>
public sealed record ReadRecipe(string Name, long ClusterSize, IReadOnlyDictionary<string, string> Options, RecipeExtra Extra = RecipeExtra.None)
{
    /// <summary>At least 8 MiB and 16 clusters, so every placement below exists without overlapping.</summary>
    public long Size => Math.Max(8L << 20, 16 * ClusterSize);

    public bool ExtendedL2 => Options.TryGetValue("extended_l2", out string? v) && v == "on";

    public bool IsVersion2 => Options.TryGetValue("compat", out string? v) && v == "0.10";

    private long Subcluster => ExtendedL2 ? ClusterSize / 32 : ClusterSize / 8;

    /// <summary>Creates the image in <paramref name="dir"/> and returns its path.</summary>
    public string Build(TempDir dir)
    {
        string image = dir.File("image.qcow2");
        string random = PatternFile.Random(dir, seed: 1);
        string compressible = PatternFile.Compressible(dir, seed: 2);
        if (Extra == RecipeExtra.ConvertCompressed)
        {
            string plain = dir.File("plain.qcow2");
            QemuTools.Create(plain, Size, new Dictionary<string, string> { ["cluster_size"] = ClusterSize.ToString() });
            QemuTools.QemuIo(plain, CommonContent(random));
            QemuTools.QemuIo(plain, $"write -s {compressible} {6 * ClusterSize} {ClusterSize}");
            QemuTools.ConvertToQcow2(plain, image, "qcow2", compress: true, Options);
            QemuTools.QemuIo(
                image,
                $"write -P 0xcc {(6 * ClusterSize) + 100} 200",
                $"write -z {3 * ClusterSize} {ClusterSize / 2}",
                $"write -z {8 * ClusterSize} {ClusterSize}",
                $"write -P 0x5e {(11 * ClusterSize) + 100} 200");
            return image;
        }

        QemuTools.Create(image, Size, Options);
        QemuTools.QemuIo(image, CommonContent(random));
        switch (Extra)
        {
            case RecipeExtra.CompressedWrites:
                long first = 12 * ClusterSize; // clusters 12–14 are untouched by the common content (compressed writes need empty clusters)
                QemuTools.QemuIo(
                    image,
                    $"write -c -s {compressible} {first} {ClusterSize}",
                    $"write -c -s {compressible} {first + ClusterSize} {ClusterSize}",
                    $"write -c -P 0x7e {first + (2 * ClusterSize)} {ClusterSize}",
                    $"write -P 0xcc {first + ClusterSize + 100} 200");
                break;
            case RecipeExtra.Snapshot:
                QemuTools.CreateSnapshot(image, "before");
                QemuTools.QemuIo(
                    image,
                    $"write -P 0xdd 0 {(ClusterSize / 2) + 7}",
                    $"write -z {3 * ClusterSize} {ClusterSize}",
                    $"discard {5 * ClusterSize} {ClusterSize}",
                    $"write -s {random} {(2 * ClusterSize) + Subcluster} {ClusterSize}");
                break;
        }

        return image;
    }

    /// <summary>What the recipe must have produced on disk, so a wrong recipe cannot pass silently.</summary>
    public IEnumerable<string> MissingFeatures(L2Dump dump)
    {
        var slots = dump.NonEmptySlots().Select(s => s.Slot).ToList();
        if (!slots.Any(s => s.IsAllocated && !s.IsCompressed))
        {
            yield return "no allocated data cluster";
        }

        bool compressed = Extra is RecipeExtra.CompressedWrites or RecipeExtra.ConvertCompressed;
        if (compressed != slots.Any(s => s.IsCompressed))
        {
            yield return compressed ? "no compressed cluster" : "unexpected compressed cluster";
        }

        if (!IsVersion2 && !slots.Any(s => s.ZeroFlag || s.ZeroBits != 0))
        {
            yield return "no zero cluster/subcluster";
        }

        if (ExtendedL2 && !slots.Any(s => s.AllocationBits is not 0 and not 0xFFFF_FFFF))
        {
            yield return "no partially allocated cluster";
        }
    }

    public override string ToString() => Name;

    private string[] CommonContent(string random)
    {
        long c = ClusterSize;
        long sc = Subcluster;
        return
        [
            "write -P 0x11 0 1k",
            $"write -s {random} {c - 700} 1400",
            $"write -s {random} {(2 * c) + (3 * sc) + 100} {(5 * sc) + 17}",
            $"write -P 0x44 {3 * c} {c}",
            $"write -s {random} {(4 * c) + 512} {2 * c}",
            $"write -z {(4 * c) + (c / 2)} {c / 4}",
            $"write -z {(4 * c) + 1000} 3000",
            $"write -P 0x66 {7 * c} {c}",
            $"discard {7 * c} {c}",
            $"write -z {8 * c} {c}",
            $"write -P 0x99 {9 * c} {c}",
            $"write -z -u {9 * c} {c}",
            $"write -s {random} {(10 * c) + sc} {sc}",
            $"discard {(10 * c) + sc} {sc}",
            $"write -s {random} {(Size / 2) - 5000} 10000",
            $"write -s {random} {Size - 3000} 3000",
        ];
    }
}
