using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Conformance;

/// <summary>We write, QEMU reads: seeded random workloads through the engine end with a clean <c>qemu-img check</c> and the raw twin's content.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class WriteConformanceTests
{
    private const long DiskSize = 8 << 20;
    private static readonly int[] Seeds = [101, 202, 303];

    public static IEnumerable<TestCaseData> Configurations()
    {
        var configurations = new (string Name, Dictionary<string, string> Options)[]
        {
            ("cluster 64k", new() { ["cluster_size"] = "65536" }),
            ("cluster 64k, extended_l2", new() { ["cluster_size"] = "65536", ["extended_l2"] = "on" }),
            ("cluster 128k, extended_l2", new() { ["cluster_size"] = "131072", ["extended_l2"] = "on" }),
            ("cluster 16k, extended_l2", new() { ["cluster_size"] = "16384", ["extended_l2"] = "on" }),
            ("cluster 16k", new() { ["cluster_size"] = "16384" }),
            ("refcount_bits 1", new() { ["refcount_bits"] = "1" }),
            ("refcount_bits 64, extended_l2", new() { ["refcount_bits"] = "64", ["extended_l2"] = "on" }),
            ("compat 0.10", new() { ["compat"] = "0.10" }),
            ("cluster 2M, extended_l2", new() { ["cluster_size"] = "2097152", ["extended_l2"] = "on" }),
            ("cluster 512", new() { ["cluster_size"] = "512" }),
        };
        foreach ((string name, Dictionary<string, string> options) in configurations)
        {
            foreach (int seed in Seeds)
            {
                yield return new TestCaseData(options, seed).SetArgDisplayNames(name, $"seed {seed}");
            }
        }
    }

    public static IEnumerable<TestCaseData> SnapshotConfigurations()
    {
        foreach (bool extended in new[] { false, true })
        {
            foreach (int seed in Seeds.Take(2))
            {
                var options = new Dictionary<string, string>();
                if (extended)
                {
                    options["extended_l2"] = "on";
                }

                yield return new TestCaseData(options, seed).SetArgDisplayNames($"extended_l2 {(extended ? "on" : "off")}", $"seed {seed}");
            }
        }
    }

    /// <summary>Small clusters and a tiny metadata cache: many L2 tables and refcount blocks, constant eviction, reftable growth.</summary>
    public static IEnumerable<TestCaseData> CachePressureConfigurations()
    {
        var configurations = new (string Name, Dictionary<string, string> Options)[]
        {
            ("cluster 4k", new() { ["cluster_size"] = "4096" }),
            ("cluster 512, refcount_bits 64", new() { ["cluster_size"] = "512", ["refcount_bits"] = "64" }),
            ("cluster 16k, extended_l2", new() { ["cluster_size"] = "16384", ["extended_l2"] = "on" }),
        };
        foreach ((string name, Dictionary<string, string> options) in configurations)
        {
            yield return new TestCaseData(options, Seeds[0]).SetArgDisplayNames(name, $"seed {Seeds[0]}");
        }
    }

    public static IEnumerable<TestCaseData> CompressedConfigurations()
    {
        foreach (string type in new[] { "zlib", "zstd" })
        {
            foreach (bool extended in new[] { false, true })
            {
                var options = new Dictionary<string, string> { ["compression_type"] = type, ["extended_l2"] = extended ? "on" : "off" };
                yield return new TestCaseData(options, Seeds[1]).SetArgDisplayNames(type, $"extended_l2 {(extended ? "on" : "off")}", $"seed {Seeds[1]}");
            }
        }
    }

    [TestCaseSource(nameof(Configurations))]
    public void RandomWorkload_FreshImage_CheckCleanAndEqualsRawTwin(Dictionary<string, string> options, int seed)
    {
        using var dir = new TempDir($"write-{seed}");
        string image = dir.File("image.qcow2");
        QemuTools.Create(image, DiskSize, options);
        string twin = WorkloadVerification.MakeTwin(image, dir.File("twin.raw"));

        WorkloadVerification.RunAndVerify(image, twin, new RandomWorkload(seed, DiskSize));
    }

    [TestCaseSource(nameof(CachePressureConfigurations))]
    public void RandomWorkload_TinyMetadataCache_CheckCleanAndEqualsRawTwin(Dictionary<string, string> options, int seed)
    {
        using var dir = new TempDir($"cache-{seed}");
        string image = dir.File("image.qcow2");
        QemuTools.Create(image, DiskSize, options);
        string twin = WorkloadVerification.MakeTwin(image, dir.File("twin.raw"));

        WorkloadVerification.RunAndVerify(image, twin, new RandomWorkload(seed, DiskSize), new ImageOpenOptions { CacheSize = 4096, L2CacheEntrySize = 512 });
    }

    /// <summary>The workload starts on an image that is compressed throughout (<c>qemu-img convert -c</c>): every write COWs a compressed cluster.</summary>
    [TestCaseSource(nameof(CompressedConfigurations))]
    public void RandomWorkload_CompressedImage_CheckCleanAndEqualsRawTwin(Dictionary<string, string> options, int seed)
    {
        using var dir = new TempDir($"compressed-{seed}");
        string plain = dir.File("plain.qcow2");
        string image = dir.File("image.qcow2");
        string compressible = PatternFile.Compressible(dir, seed, 192 * 1024);
        QemuTools.Create(plain, DiskSize);
        QemuTools.QemuIo(plain, $"write -s {compressible} 0 {DiskSize - (1 << 20)}");
        QemuTools.ConvertToQcow2(plain, image, "qcow2", compress: true, options);
        Assert.That(L2Dump.Load(image).NonEmptySlots().Count(s => s.Slot.IsCompressed), Is.GreaterThan(100), "compressed clusters");
        string twin = WorkloadVerification.MakeTwin(image, dir.File("twin.raw"));

        WorkloadVerification.RunAndVerify(image, twin, new RandomWorkload(seed, DiskSize));
    }

    [TestCaseSource(nameof(SnapshotConfigurations))]
    public void RandomWorkload_ImageWithInternalSnapshot_SnapshotKeepsOldData(Dictionary<string, string> options, int seed)
    {
        using var dir = new TempDir($"snapshot-{seed}");
        string image = dir.File("image.qcow2");
        string random = PatternFile.Random(dir, seed);
        QemuTools.Create(image, DiskSize, options);
        QemuTools.QemuIo(image, $"write -s {random} 0 {DiskSize / 2}", $"write -P 0x3c {DiskSize - (1 << 20)} 512k", $"write -z {DiskSize / 2} 1M");
        QemuTools.CreateSnapshot(image, "base");
        string snapshotBefore = dir.File("base-before.raw");
        QemuTools.ConvertToRaw(image, snapshotBefore, snapshotName: "base");
        string twin = WorkloadVerification.MakeTwin(image, dir.File("twin.raw"));

        WorkloadVerification.RunAndVerify(image, twin, new RandomWorkload(seed, DiskSize));

        string snapshotAfter = dir.File("base-after.raw");
        QemuTools.ConvertToRaw(image, snapshotAfter, snapshotName: "base");
        Assert.Multiple(() =>
        {
            Assert.That(Checksum.Sha256OfFile(snapshotAfter), Is.EqualTo(Checksum.Sha256OfFile(snapshotBefore)), $"seed {seed}: snapshot 'base' changed");
            Assert.That(Checksum.Sha256OfFile(snapshotAfter), Is.Not.EqualTo(Checksum.Sha256OfFile(twin)), "the workload changed the active image");
        });
    }
}
