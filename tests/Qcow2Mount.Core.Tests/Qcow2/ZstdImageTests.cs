using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Qcow2.Create;
using Qcow2Mount.Core.Tools;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>
/// Both zstd codecs (<see cref="ZstdCodec"/>) through the whole image code: an image compressed by either is read by
/// qemu-img and by the other codec as the source, and an image qemu-img compressed is read by both.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class ZstdImageTests
{
    private const int Size = 4 << 20;

    private static IEnumerable<TestCaseData> Pairs()
    {
        foreach (string writer in new[] { "native", "managed" })
        {
            string reader = writer == "native" ? "managed" : "native";
            yield return new TestCaseData(writer, reader).SetArgDisplayNames(writer, reader);
        }
    }

    [TestCaseSource(nameof(Pairs))]
    public void ConvertCompressed_EitherCodec_QemuAndTheOtherCodecReadTheSource(string writer, string reader)
    {
        using var dir = new TempDir("zstd-convert");
        string raw = dir.File("in.raw"), target = dir.File("out.qcow2");
        var source = MixedData();
        File.WriteAllBytes(raw, source);

        using (ZstdCodec.Force(ZstdCodecTests.Pick(writer)))
        {
            ImageConverter.Convert(raw, target, new ConvertOptions
            {
                TargetFormat = "qcow2",
                Compress = true,
                Qcow2 = new Qcow2CreateOptions { CompressionType = 1, ExtendedL2 = false, ClusterSize = 65536 },
            });
        }

        var (code, check) = QemuTools.CheckJson(target);
        Assert.Multiple(() =>
        {
            Assert.That(QemuTools.Compare(raw, target, "raw", "qcow2"), Is.True, "qemu-img compare");
            Assert.That(code, Is.EqualTo(0), check.ToJsonString());
            Assert.That(QemuTools.Long(check, "compressed-clusters"), Is.GreaterThan(0));
            Assert.That(ReadAll(target, reader), Is.EqualTo(source), $"read with the {reader} codec");
        });
    }

    [TestCase("native")]
    [TestCase("managed")]
    public void QemuCompressedImage_EitherCodec_ReadsTheSource(string reader)
    {
        using var dir = new TempDir("zstd-qemu");
        string raw = dir.File("in.raw"), image = dir.File("qemu.qcow2");
        var source = MixedData();
        File.WriteAllBytes(raw, source);
        QemuTools.Ok("qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", "-o", "compression_type=zstd,cluster_size=65536", raw, image);

        Assert.That(ReadAll(image, reader), Is.EqualTo(source));
    }

    private static byte[] ReadAll(string image, string codec)
    {
        using var scope = ZstdCodec.Force(ZstdCodecTests.Pick(codec));
        using var disk = Qcow2Image.Open(image, new ImageOpenOptions { ReadOnly = true });
        var data = new byte[disk.Length];
        disk.Read(0, data);
        return data;
    }

    /// <summary>Text-like, random and zero clusters, and a partial text cluster among random ones.</summary>
    private static byte[] MixedData()
    {
        var data = new byte[Size];
        ZstdCodecTests.TextLike(1 << 20, seed: 11).CopyTo(data, 0);
        new Random(12).NextBytes(data.AsSpan(1 << 20, 1 << 20));
        ZstdCodecTests.TextLike(100_000, seed: 13).CopyTo(data, (3 << 20) + 5000);
        return data;
    }
}
