using System.Text;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Conformance;

/// <summary>
/// The engine and qemu-io run the same short operation sequence on two copies of one extended-L2 (or standard-L2) image; the raw L2
/// entries must then agree cluster by cluster (alloc and zero bitmaps, zero flag, allocated or not, compressed or
/// not; host offsets may differ), the contents must be identical and both images must check clean. Run without a
/// backing file and on overlays of a qcow2 and a raw backing file full of data, where partially written subclusters
/// must be completed from the backing file.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class SubclusterConformanceTests
{
    private const int ClustersPerDisk = 8;

    public enum Backing
    {
        None,
        Qcow2,
        Raw,
    }

    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (Backing backing in Enum.GetValues<Backing>())
        {
            foreach (long cluster in new long[] { 64 * 1024, 128 * 1024 })
            {
                foreach (SubclusterScenario scenario in SubclusterScenario.All)
                {
                    yield return new TestCaseData(scenario, cluster, true, backing)
                        .SetArgDisplayNames(scenario.Name, $"{cluster / 1024}k", $"backing {backing}");
                }
            }
        }

        // The same sequences with standard L2 entries: the zero flag and whole-cluster COW instead of bitmaps.
        foreach (Backing backing in new[] { Backing.None, Backing.Raw })
        {
            foreach (SubclusterScenario scenario in SubclusterScenario.All)
            {
                yield return new TestCaseData(scenario, 64L * 1024, false, backing)
                    .SetArgDisplayNames(scenario.Name, "64k standard L2", $"backing {backing}");
            }
        }
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<(long, bool, Backing), Lazy<string>> _templates = new();
    private TempDir? _shared;

    [OneTimeSetUp]
    public void CreateSharedDirectory() => _shared = new TempDir("subcluster-templates");

    [OneTimeTearDown]
    public void DeleteSharedDirectory() => _shared?.Dispose();

    [TestCaseSource(nameof(Cases))]
    public void Scenario_EngineAndQemuIo_SameL2BitmapsAndContent(SubclusterScenario scenario, long clusterSize, bool extendedL2, Backing backing)
    {
        using var dir = new TempDir("subcluster");
        string fresh = dir.File("fresh.qcow2");
        File.Copy(Template(clusterSize, extendedL2, backing), fresh);
        string[] setup = scenario.Setup(clusterSize);
        if (setup.Length > 0)
        {
            QemuTools.QemuIo(fresh, setup);
        }

        string qemuImage = dir.File("qemu.qcow2");
        string ourImage = dir.File("engine.qcow2");
        File.Copy(fresh, qemuImage);
        File.Copy(fresh, ourImage);
        ScenarioStep[] steps = scenario.Steps(clusterSize);
        string context = $"{scenario.Name} [{string.Join("; ", steps.Select(s => s.ToString()))}], cluster {clusterSize}, extended_l2 {extendedL2}, backing {backing}";

        using (var qemu = new QemuIoDisk(qemuImage, dir, ClustersPerDisk * clusterSize, clusterSize))
        {
            foreach (ScenarioStep step in steps)
            {
                step.ApplyTo(qemu);
            }
        }

        using (Qcow2Image engine = Qcow2Image.Open(ourImage))
        {
            foreach (ScenarioStep step in steps)
            {
                step.ApplyTo(engine);
            }
        }

        L2Dump expected = L2Dump.Load(qemuImage);
        L2Dump actual = L2Dump.Load(ourImage);
        QemuCheckResult check = QemuTools.Check(ourImage);
        ProcessResult compare = QemuTools.CompareResult(qemuImage, ourImage, "qcow2", "qcow2");
        Assert.Multiple(() =>
        {
            Assert.That(DescribeL2Differences(expected, actual), Is.Empty, context);
            Assert.That(compare.ExitCode, Is.Zero, $"{context}: content differs from qemu-io's: {compare.StandardOutput}");
            Assert.That(check.IsClean, Is.True, $"{context}: {check}");
        });
    }

    /// <summary>Empty when every cluster's L2 entry agrees on everything but the host offset; else one line per differing cluster.</summary>
    internal static string DescribeL2Differences(L2Dump expected, L2Dump actual)
    {
        var text = new StringBuilder();
        for (long c = 0; c < expected.ClusterCount; c++)
        {
            L2Slot e = expected.SlotOrEmpty(c);
            L2Slot a = actual.SlotOrEmpty(c);
            if (e.AllocationBits != a.AllocationBits || e.ZeroBits != a.ZeroBits || e.ZeroFlag != a.ZeroFlag ||
                e.IsAllocated != a.IsAllocated || e.IsCompressed != a.IsCompressed || e.IsCopied != a.IsCopied)
            {
                text.Append($"\n  cluster {c}: qemu-io {e}\n  {new string(' ', 8 + c.ToString().Length)}engine  {a}");
            }
        }

        return text.ToString();
    }

    /// <summary>
    /// A fresh image per geometry and backing kind, made once per run and copied for each case; its backing file
    /// (filled with seeded data) is shared read-only by all copies.
    /// </summary>
    private string Template(long clusterSize, bool extendedL2, Backing backing) =>
        _templates.GetOrAdd((clusterSize, extendedL2, backing), key => new Lazy<string>(() => CreateTemplate(_shared!, key.Item1, key.Item2, key.Item3))).Value;

    private static string CreateTemplate(TempDir dir, long clusterSize, bool extendedL2, Backing backing)
    {
        string name = $"{clusterSize / 1024}k-{(extendedL2 ? "ext" : "std")}-{backing}";
        string image = dir.File($"fresh-{name}.qcow2");
        long size = ClustersPerDisk * clusterSize;
        var options = new Dictionary<string, string> { ["extended_l2"] = extendedL2 ? "on" : "off", ["cluster_size"] = clusterSize.ToString() };
        if (backing == Backing.None)
        {
            QemuTools.Create(image, size, options);
            return image;
        }

        TestImages.CreateOverlayOfFilledBacking(image, backing == Backing.Raw ? "raw" : "qcow2", size, seed: (int)clusterSize, options: options);
        return image;
    }
}
