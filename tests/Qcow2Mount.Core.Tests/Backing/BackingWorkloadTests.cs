using Qcow2Mount.Core.Tests.Conformance;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Backing;

/// <summary>Seeded random workloads on overlays of filled backing files: check clean, content equals the raw twin, backing files untouched.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class BackingWorkloadTests
{
    private const long OverlaySize = 8 << 20;

    public static IEnumerable<TestCaseData> Cases()
    {
        int seed = 500;
        foreach (string format in new[] { "raw", "qcow2" })
        {
            foreach (bool extended in new[] { false, true })
            {
                foreach (long backingSize in new[] { OverlaySize, 6L << 20 })
                {
                    seed++;
                    yield return new TestCaseData(format, extended, backingSize, seed).SetArgDisplayNames(
                        $"{format} backing {backingSize >> 20}M",
                        $"extended_l2 {(extended ? "on" : "off")}",
                        $"seed {seed}");
                }
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void RandomWorkload_OverlayOfFilledBacking_CheckCleanEqualsTwinBackingUnchanged(string backingFormat, bool extendedL2, long backingSize, int seed)
    {
        using var dir = new TempDir($"overlay-{seed}");
        string overlay = dir.File("overlay.qcow2");
        string backing = TestImages.CreateOverlayOfFilledBacking(
            overlay, backingFormat, backingSize, seed, OverlaySize, new Dictionary<string, string> { ["extended_l2"] = extendedL2 ? "on" : "off" });
        string twin = WorkloadVerification.MakeTwin(overlay, dir.File("twin.raw"));
        string backingHash = Checksum.Sha256OfFile(backing);

        WorkloadVerification.RunAndVerify(overlay, twin, new RandomWorkload(seed, OverlaySize));

        Assert.That(Checksum.Sha256OfFile(backing), Is.EqualTo(backingHash), $"seed {seed}: the backing file changed");
    }

    [TestCase(601)]
    public void RandomWorkload_TopOfThreeLayerChain_CheckCleanEqualsTwinLowerLayersUnchanged(int seed)
    {
        using var dir = new TempDir($"chain-{seed}");
        var layout = new ChainLayout("raw", 3L << 20, 5L << 20, OverlaySize, TopExtendedL2: true);
        string top = layout.Build(dir);
        string[] lower = [dir.File("base.raw"), dir.File("mid.qcow2")];
        var hashes = lower.Select(Checksum.Sha256OfFile).ToList();
        string twin = WorkloadVerification.MakeTwin(top, dir.File("twin.raw"));

        WorkloadVerification.RunAndVerify(top, twin, new RandomWorkload(seed, OverlaySize));

        Assert.That(lower.Select(Checksum.Sha256OfFile), Is.EqualTo(hashes), $"seed {seed}: a lower layer changed");
    }
}
