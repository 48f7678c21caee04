using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Conformance;

/// <summary>
/// Images with an external data file (<c>data_file</c>, <c>data_file_raw</c> on and off): the engine reads what
/// QEMU wrote, and the same seeded workload run by qemu-io and by the engine leaves the same guest content, the same
/// L2 entries (host offsets aside) and, with data_file_raw, a data file that is a raw image of it; <c>qemu-img
/// check</c> stays clean. Relative data file names are relative to the working directory (qemu-img 7.2 behaviour,
/// unlike backing file names; see BackingChainMountTests).
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
public sealed class ExternalDataFileTests
{
    private const long Size = 8L << 20;

    public static IEnumerable<TestCaseData> Cases()
    {
        int seed = 700;
        foreach (bool raw in new[] { true, false })
        {
            foreach (bool extended in new[] { false, true })
            {
                yield return new TestCaseData(raw, extended, ++seed).SetArgDisplayNames(
                    $"data_file_raw {(raw ? "on" : "off")}", $"extended_l2 {(extended ? "on" : "off")}", $"seed {seed}");
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Read_WrittenByQemuIo_EqualsQemuConvert(bool dataFileRaw, bool extendedL2, int seed)
    {
        using var dir = new TempDir("datafile-read");
        string image = Create(dir, "image", dataFileRaw, extendedL2);
        string random = PatternFile.Random(dir, seed);
        QemuTools.QemuIo(
            image,
            $"write -s {random} 100000 60000",
            "write -P 0x5a 1M 300k",
            "write -z 1100k 64k",
            "write -z 3M 128k",
            "discard 1152k 128k",
            $"write -P 0x5b {Size - 5000} 5000");
        string expected = dir.File("expected.raw");
        QemuTools.ConvertToRaw(image, expected);

        using Qcow2Image disk = Qcow2Image.Open(image, new ImageOpenOptions { ReadOnly = true });

        Assert.Multiple(() =>
        {
            Assert.That(DiskContent.DescribeDifference(disk, expected), Is.Empty);
            Assert.That(ReadConformanceTests.RandomReads(disk, expected, seed, count: 100), Is.Empty);
        });
    }

    [TestCaseSource(nameof(Cases))]
    public void Workload_EngineAndQemuIo_SameContentL2AndRawDataFile(bool dataFileRaw, bool extendedL2, int seed)
    {
        using var dir = new TempDir("datafile-write");
        string qemuImage = Create(dir, "qemu", dataFileRaw, extendedL2);
        string ourImage = Create(dir, "engine", dataFileRaw, extendedL2);
        const long clusterSize = 64 * 1024; // qemu-img's default, with extended L2 too
        var workload = new RandomWorkload(seed, Size, operationCount: 60);

        using (var qemu = new QemuIoDisk(qemuImage, dir, Size, clusterSize))
        {
            workload.Apply(qemu);
        }

        using (Qcow2Image engine = Qcow2Image.Open(ourImage))
        {
            workload.Apply(engine);
        }

        string context = $"{workload}, data_file_raw {dataFileRaw}, extended_l2 {extendedL2}";
        ProcessResult compare = QemuTools.CompareResult(qemuImage, ourImage, "qcow2", "qcow2");
        QemuCheckResult check = QemuTools.Check(ourImage);
        string l2 = SubclusterConformanceTests.DescribeL2Differences(L2Dump.Load(qemuImage), L2Dump.Load(ourImage));
        Assert.Multiple(() =>
        {
            Assert.That(compare.ExitCode, Is.Zero, $"{context}: {compare.StandardOutput}");
            Assert.That(check.IsClean, Is.True, $"{context}: {check}");
            Assert.That(l2, Is.Empty, context);
            if (dataFileRaw)
            {
                // The raw data file is itself a raw image of the guest disk.
                Assert.That(QemuTools.Compare(ourImage, DataFile(ourImage), "qcow2", "raw"), Is.True, $"{context}: data file vs the image");
            }
        });
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Discard_DataFileRaw_DataFileStaysRawImageOfTheDisk(bool extendedL2)
    {
        // QEMU passes a discard through to the data file; the engine must not leave the old bytes there while the
        // qcow2 view reads zeros, or the data file is no longer a raw image of the disk.
        using var dir = new TempDir("datafile-discard");
        string image = Create(dir, "image", dataFileRaw: true, extendedL2);
        QemuTools.QemuIo(image, $"write -P 0x6c 0 {Size}");

        using (Qcow2Image disk = Qcow2Image.Open(image))
        {
            disk.Discard(1 << 20, 256 << 10);              // whole clusters
            disk.Discard((3 << 20) + 1000, 200_000);        // unaligned head and tail
            disk.Discard(Size - (64 << 10), 64 << 10);      // the last cluster
            disk.Flush();
        }

        var raw = File.ReadAllBytes(DataFile(image));
        Assert.Multiple(() =>
        {
            Assert.That(raw.AsSpan(1 << 20, 256 << 10).ContainsAnyExcept((byte)0), Is.False, "whole discarded clusters");
            Assert.That(raw.AsSpan((3 << 20) + 1000, 200_000).ContainsAnyExcept((byte)0), Is.False, "unaligned discard");
            Assert.That(raw.AsSpan((int)Size - (64 << 10), 64 << 10).ContainsAnyExcept((byte)0), Is.False, "last cluster");
            Assert.That(raw[(1 << 20) - 1], Is.EqualTo(0x6c), "bytes outside the discards stay");
            Assert.That(QemuTools.Compare(image, DataFile(image), "qcow2", "raw"), Is.True, "data file vs the image");
            Assert.That(QemuTools.Check(image).IsClean, Is.True);
        });
    }

    private static string Create(TempDir dir, string name, bool dataFileRaw, bool extendedL2)
    {
        string image = dir.File(name + ".qcow2");
        var options = new Dictionary<string, string>
        {
            ["data_file"] = DataFile(image),
            ["data_file_raw"] = dataFileRaw ? "on" : "off",
            ["extended_l2"] = extendedL2 ? "on" : "off",
        };
        QemuTools.Create(image, Size, options);
        return image;
    }

    private static string DataFile(string image) => image + ".data";
}
