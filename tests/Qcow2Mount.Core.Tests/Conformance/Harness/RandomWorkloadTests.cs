using Qcow2Mount.Core.Storage;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Conformance.Harness;

/// <summary>The seeded workload generator: reproducible, in bounds, covering every operation kind and size class.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
public sealed class RandomWorkloadTests
{
    private const long Disk = 8 << 20;

    [Test]
    public void Operations_SameSeed_AreIdentical()
    {
        var a = new RandomWorkload(42, Disk);
        var b = new RandomWorkload(42, Disk);

        Assert.Multiple(() =>
        {
            Assert.That(b.Operations, Is.EqualTo(a.Operations));
            Assert.That(b.Operations[5].Data(), Is.EqualTo(a.Operations[5].Data()));
            Assert.That(new RandomWorkload(43, Disk).Operations, Is.Not.EqualTo(a.Operations));
        });
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void Operations_AnySeed_StayInsideTheDiskAndSizeLimits(int seed)
    {
        var workload = new RandomWorkload(seed, Disk, 400);
        var ranged = workload.Operations.Where(o => o.Kind != WorkloadOperationKind.Flush).ToList();

        Assert.Multiple(() =>
        {
            Assert.That(ranged.All(o => o.Offset >= 0 && o.Offset + o.Length <= Disk), Is.True, workload.Describe());
            Assert.That(ranged.Where(o => o.Kind == WorkloadOperationKind.Write).All(o => o.Length is >= RandomWorkload.MinWrite and <= RandomWorkload.MaxWrite), Is.True);
            Assert.That(workload.Operations.Select(o => o.Kind).Distinct(), Is.EquivalentTo(Enum.GetValues<WorkloadOperationKind>()));
            Assert.That(ranged.Count(o => o.Length % 512 != 0), Is.GreaterThan(20), "unaligned lengths");
            Assert.That(ranged.Count(o => o.Offset % 512 != 0), Is.GreaterThan(20), "unaligned offsets");
            Assert.That(ranged.Count(o => o.Offset / 65536 != (o.Offset + o.Length - 1) / 65536), Is.GreaterThan(40), "64 KiB boundary crossings");
            Assert.That(ranged.Count(o => o.Kind != WorkloadOperationKind.Write && o.Offset % 65536 == 0 && o.Length % 65536 == 0), Is.GreaterThan(5), "whole-cluster zero/discard ranges");
            Assert.That(ranged.Count(o => o.Length > 128 * 1024), Is.GreaterThan(10), "large requests");
            Assert.That(ranged.Where(o => o.Kind == WorkloadOperationKind.WriteZeroes).Select(o => o.MayUnmap).Distinct().Count(), Is.EqualTo(2));
        });
    }

    [Test]
    public void Operations_RewritesOverlapEarlierWrites()
    {
        var workload = new RandomWorkload(7, Disk, 400);
        var writes = workload.Operations.Where(o => o.Kind == WorkloadOperationKind.Write).ToList();

        int overlapping = writes.Count(w => writes.Any(e => e.Index < w.Index && e.Offset < w.Offset + w.Length && w.Offset < e.Offset + e.Length));

        Assert.That(overlapping, Is.GreaterThan(writes.Count / 5));
    }

    [Test]
    public void Data_Shapes_AreWhatTheyClaim()
    {
        WorkloadOperation Op(WorkloadData shape) => new(0, WorkloadOperationKind.Write, 0, 20000, DataSeed: 9, DataShape: shape);

        Assert.Multiple(() =>
        {
            Assert.That(Op(WorkloadData.Zeros).Data(), Is.All.Zero);
            Assert.That(Op(WorkloadData.Fill).Data().Distinct().Count(), Is.EqualTo(1));
            Assert.That(Op(WorkloadData.Fill).Data()[0], Is.Not.Zero);
            Assert.That(Op(WorkloadData.Random).Data().Distinct().Count(), Is.GreaterThan(200));
            Assert.That(Op(WorkloadData.RandomWithZeroRuns).Data().AsSpan().IndexOf(new byte[512]), Is.GreaterThanOrEqualTo(0));
        });
    }

    [Test]
    public void Apply_RawDiskAndTwin_EndIdentical()
    {
        using var dir = new TempDir();
        string diskPath = dir.File("disk.raw");
        string twinPath = dir.File("twin.raw");
        File.WriteAllBytes(diskPath, new byte[Disk]);
        File.WriteAllBytes(twinPath, new byte[Disk]);
        var workload = new RandomWorkload(5, Disk);

        using (var disk = new RawDisk(FileBlockDevice.Open(diskPath, readOnly: false)))
        {
            workload.Apply(disk, twinPath);
        }

        Assert.Multiple(() =>
        {
            Assert.That(Checksum.Sha256OfFile(diskPath), Is.EqualTo(Checksum.Sha256OfFile(twinPath)), workload.ToString());
            Assert.That(Checksum.Sha256OfFile(twinPath), Is.Not.EqualTo(Checksum.Sha256(new byte[Disk])), "the workload wrote something");
        });
    }

    /// <summary>The twin model (zeros for zero writes and discards) agrees with what QEMU itself does for the same operations.</summary>
    [TestCase(false, false)]
    [TestCase(true, false)]
    [TestCase(true, true)]
    public void Apply_QemuIoDisk_QemuImageEqualsTwinAndChecksClean(bool extendedL2, bool withBacking)
    {
        using var dir = new TempDir();
        string image = dir.File("image.qcow2");
        var options = new Dictionary<string, string> { ["extended_l2"] = extendedL2 ? "on" : "off" };
        if (withBacking)
        {
            TestImages.CreateOverlayOfFilledBacking(image, "raw", Disk, seed: 8, options: options);
        }
        else
        {
            QemuTools.Create(image, Disk, options);
        }

        string twin = dir.File("twin.raw");
        QemuTools.ConvertToRaw(image, twin);
        var workload = new RandomWorkload(21, Disk, 80);

        using (var disk = new QemuIoDisk(image, dir))
        {
            workload.Apply(disk, twin);
        }

        QemuCheckResult check = QemuTools.Check(image);
        Assert.Multiple(() =>
        {
            Assert.That(check.IsClean, Is.True, check.ToString());
            Assert.That(QemuTools.Compare(image, twin), Is.True, workload.Describe());
        });
    }

    [Test]
    public void Apply_DiskThrows_ExceptionNamesSeedAndStep()
    {
        using var dir = new TempDir();
        string diskPath = dir.File("disk.raw");
        File.WriteAllBytes(diskPath, new byte[Disk]);
        var workload = new RandomWorkload(11, Disk);

        using var disk = new RawDisk(FileBlockDevice.Open(diskPath, readOnly: true));

        Assert.That(
            () => workload.Apply(disk),
            Throws.TypeOf<WorkloadException>().With.Message.Contains("seed 11").And.Message.Contains("#"));
    }

    [Test]
    public void DescribeDifference_OneByteChanged_NamesItsOffset()
    {
        using var dir = new TempDir();
        string a = dir.File("a.raw");
        var bytes = new byte[3 << 20];
        File.WriteAllBytes(a, bytes);
        bytes[(2 << 20) + 5] = 1;
        File.WriteAllBytes(dir.File("b.raw"), bytes);

        using var disk = new RawDisk(FileBlockDevice.Open(dir.File("b.raw"), readOnly: true));

        Assert.Multiple(() =>
        {
            Assert.That(DiskContent.DescribeDifference(disk, a), Does.Contain($"offset {(2 << 20) + 5} "));
            Assert.That(DiskContent.DescribeDifference(disk, a, 0, 2 << 20), Is.Empty);
        });
    }
}
