using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Hostile;

/// <summary>
/// The corpus is only as precise as its starting point: every <see cref="ImageBuilder"/> variant must be an image
/// QEMU calls clean, with the guest content the builder claims, and the engine must read it the same way.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class ImageBuilderTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = TempDir.Create("builder");

    [TearDown]
    public void TearDown() => TempDir.Delete(_dir);

    private static IEnumerable<TestCaseData> Variants()
    {
        yield return Variant("v3 64 KiB", new ImageBuilder());
        yield return Variant("v3 64 KiB compressed + snapshot", new ImageBuilder { Compressed = true, Snapshot = true });
        yield return Variant("v3 extended L2 compressed + snapshot", new ImageBuilder { ExtendedL2 = true, Compressed = true, Snapshot = true });
        yield return Variant("v3 16 KiB extended L2 zstd refcount 8", new ImageBuilder { ClusterBits = 14, ExtendedL2 = true, Compressed = true, CompressionType = 1, RefcountOrder = 3 });
        yield return Variant("v3 512 B refcount 1 compressed", new ImageBuilder { ClusterBits = 9, RefcountOrder = 0, Compressed = true });
        yield return Variant("v3 2 MiB refcount 64 zstd", new ImageBuilder { ClusterBits = 21, RefcountOrder = 6, Compressed = true, CompressionType = 1 });
        yield return Variant("v2 64 KiB compressed + snapshot", new ImageBuilder { Version = 2, Compressed = true, Snapshot = true });
        yield return Variant("v3 with raw backing file", new ImageBuilder { BackingFile = "base.raw", BackingFormat = "raw" });
    }

    [TestCaseSource(nameof(Variants))]
    public void Build_Variant_IsCleanForQemuAndReadsAsClaimed(ImageBuilderCase variant)
    {
        var builder = variant.Builder;
        string image = Path.Combine(_dir, "image.qcow2");
        File.WriteAllBytes(image, builder.Build());
        if (builder.BackingFile is { } backing)
        {
            File.WriteAllBytes(Path.Combine(_dir, backing), new byte[builder.VirtualSize]);
        }

        var check = QemuImg("check", "-f", "qcow2", image);
        string raw = Path.Combine(_dir, "image.raw");
        var convert = QemuImg("convert", "-f", "qcow2", "-O", "raw", image, raw);
        Assert.Multiple(() =>
        {
            Assert.That(check.Code, Is.EqualTo(0), check.Output);
            Assert.That(check.Output, Does.Contain("No errors were found"), check.Output);
            Assert.That(convert.Code, Is.EqualTo(0), convert.Output);
        });

        var expected = builder.ExpectedGuest();
        Assert.That(File.ReadAllBytes(raw).SequenceEqual(expected), Is.True, "qemu-img sees other guest bytes than the builder wrote");
        using var disk = Qcow2Image.Open(image, new ImageOpenOptions { ReadOnly = true });
        var ours = new byte[expected.Length];
        disk.Read(0, ours);
        Assert.That(ours.SequenceEqual(expected), Is.True, "the engine reads other guest bytes than the builder wrote");
    }

    private static TestCaseData Variant(string name, ImageBuilder builder) =>
        new TestCaseData(new ImageBuilderCase(builder)).SetArgDisplayNames(name);

    private static (int Code, string Output) QemuImg(params string[] args)
    {
        var (code, stdout, stderr) = QemuTools.Run("qemu-img", args);
        return (code, stdout + stderr);
    }

    /// <summary>Wraps the internal builder for a public test method.</summary>
    public sealed class ImageBuilderCase
    {
        internal ImageBuilderCase(ImageBuilder builder) => Builder = builder;

        internal ImageBuilder Builder { get; }
    }
}
