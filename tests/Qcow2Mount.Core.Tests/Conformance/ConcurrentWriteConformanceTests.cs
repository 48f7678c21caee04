using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Conformance;

/// <summary>
/// <see cref="IVirtualDisk"/> promises thread safety: four seeded workloads run at once on disjoint windows of one
/// image whose borders are deliberately not cluster-aligned, so neighbouring threads allocate, COW and zero in the
/// same clusters (different subclusters) and share L2 tables and refcount blocks. The result must still check clean
/// and equal the raw twin.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class ConcurrentWriteConformanceTests
{
    private const long DiskSize = 8 << 20;

    /// <summary>Window borders: inside clusters and subclusters for every cluster size used below.</summary>
    private static readonly long[] Borders = [0, (2L << 20) + 1000, (4L << 20) - 3333, (6L << 20) + 70000, DiskSize];

    public static IEnumerable<TestCaseData> Cases()
    {
        var configurations = new (string Name, Dictionary<string, string> Options)[]
        {
            ("cluster 64k", new() { ["cluster_size"] = "65536" }),
            ("cluster 64k, extended_l2", new() { ["cluster_size"] = "65536", ["extended_l2"] = "on" }),
            ("cluster 4k", new() { ["cluster_size"] = "4096" }),
        };
        foreach ((string name, Dictionary<string, string> options) in configurations)
        {
            foreach (bool backed in new[] { false, true })
            {
                yield return new TestCaseData(options, backed, 900 + name.Length).SetArgDisplayNames(name, backed ? "raw backing" : "no backing");
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void ParallelWorkloads_DisjointUnalignedWindows_CheckCleanAndEqualsRawTwin(Dictionary<string, string> options, bool backed, int seed)
    {
        using var dir = new TempDir("concurrent");
        string image = dir.File("image.qcow2");
        if (backed)
        {
            TestImages.CreateOverlayOfFilledBacking(image, "raw", DiskSize, seed, options: options);
        }
        else
        {
            QemuTools.Create(image, DiskSize, options);
        }

        string twin = WorkloadVerification.MakeTwin(image, dir.File("twin.raw"));
        var workloads = Enumerable.Range(0, Borders.Length - 1)
            .Select(i => (Window: (Start: Borders[i], Length: Borders[i + 1] - Borders[i]), Workload: new RandomWorkload(seed + i, Borders[i + 1] - Borders[i], 100)))
            .ToList();
        string context = $"seeds {string.Join(", ", workloads.Select(w => w.Workload.Seed))}";

        using (Qcow2Image disk = Qcow2Image.Open(image))
        using (var twinHandle = File.OpenHandle(twin, FileMode.Open, FileAccess.ReadWrite))
        {
            Parallel.ForEach(
                workloads,
                new ParallelOptions { MaxDegreeOfParallelism = workloads.Count },
                w => w.Workload.Apply(new WindowDisk(disk, w.Window.Start, w.Window.Length), twinHandle, w.Window.Start));
            Assert.That(DiskContent.DescribeDifference(disk, twin), Is.Empty, $"{context}: read back before close");
        }

        QemuCheckResult check = QemuTools.Check(image);
        Assert.Multiple(() =>
        {
            Assert.That(check.IsClean, Is.True, $"{context}: {check}");
            Assert.That(QemuTools.CompareResult(image, twin).ExitCode, Is.Zero, $"{context}: qemu-img compare with the twin");
        });
    }
}
