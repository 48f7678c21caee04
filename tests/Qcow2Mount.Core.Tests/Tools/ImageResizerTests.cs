using Qcow2Mount.Core.Tools;

namespace Qcow2Mount.Core.Tests.Tools;

[TestFixture]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class ImageResizerTests : ToolsTestDirectory
{
    [TestCase("cluster_size=65536", 64L << 20)]
    [TestCase("cluster_size=512,extended_l2=off", 200L << 20)]
    [TestCase("extended_l2=on,cluster_size=16384,refcount_bits=1", 3L << 30)]
    [TestCase("compat=0.10,cluster_size=4096", 100L << 20)]
    public void Grow_KeepsDataAndNewAreaReadsZero_QemuClean(string options, long newSize)
    {
        string image = PathOf("x.qcow2");
        QemuTools.Create(image, options, 3 << 20);
        QemuTools.QemuIo(image, "write -P 7 0 3M");
        ImageResizer.Resize(image, newSize, allowShrink: false);
        Assert.Multiple(() =>
        {
            Assert.That(QemuTools.CheckJson(image).Code, Is.EqualTo(0));
            Assert.That(QemuTools.Json(QemuTools.Ok("qemu-img", "info", "--output=json", image))["virtual-size"]!.GetValue<long>(), Is.EqualTo(newSize));
        });
        QemuTools.QemuIo(image, "read -P 7 0 3M", $"read -P 0 3M {(2 << 20)}", $"read -P 0 {newSize - (1 << 20)} 1M", $"write -P 8 {newSize - 4096} 4k");
        Assert.That(QemuTools.CheckJson(image).Code, Is.EqualTo(0));
    }

    [TestCase("cluster_size=65536")]
    [TestCase("extended_l2=on,cluster_size=65536")]
    public void ShrinkThenGrow_DiscardedDataNeverReappears(string options)
    {
        string image = PathOf("x.qcow2");
        QemuTools.Create(image, options, 8 << 20);
        QemuTools.QemuIo(image, "write -P 7 0 8M");
        QemuTools.Ok("qemu-img", "snapshot", "-c", "s", image);
        QemuTools.QemuIo(image, "write -P 6 0 1M");
        ImageResizer.Resize(image, (1 << 20) + 1536, allowShrink: true);
        Assert.That(QemuTools.CheckJson(image).Code, Is.EqualTo(0));
        ImageResizer.Resize(image, 4 << 20, allowShrink: false);
        QemuTools.QemuIo(image, "read -P 6 0 1M", "read -P 7 1M 1536", "read -P 0 1050112 3143680");
        Assert.That(QemuTools.CheckJson(image).Code, Is.EqualTo(0));
    }

    public static IEnumerable<TestCaseData> ShrinkGrowCases()
    {
        const long mib = 1 << 20;
        // (options, what qemu-io writes first, the shrunk size) — the data past the shrunk size must never come back.
        var cases = new (string Name, string Options, string[] Writes, long ShrinkTo)[]
        {
            ("standard, partial last cluster", "cluster_size=65536", ["write -P 7 0 2M"], mib + 1536),
            ("standard, data only past the end", "cluster_size=65536", ["write -P 7 0 1M", "write -P 9 1081344 4k"], mib + 4096),
            ("extended, allocated subcluster at the end", "extended_l2=on,cluster_size=65536", ["write -P 7 0 2M"], mib + 1536),
            ("extended, later subclusters only", "extended_l2=on,cluster_size=65536", ["write -P 7 0 1M", "write -P 9 1089536 4k", "write -P 9 1112064 2k"], mib + 4096),
            ("extended, unaligned end in an empty subcluster", "extended_l2=on,cluster_size=65536", ["write -P 7 0 1M", "write -P 9 1081344 2k", "write -P 9 1110016 1k"], mib + 4608),
            ("extended, zero-allocated tail", "extended_l2=on,cluster_size=65536", ["write -P 9 0 2M", "write -z 1052672 8k"], mib + 4096),
        };
        foreach (var c in cases)
        {
            foreach (var (qemuShrinks, qemuGrows) in new[] { (false, false), (false, true), (true, false) })
            {
                yield return new TestCaseData(c.Options, c.Writes, c.ShrinkTo, qemuShrinks, qemuGrows).SetArgDisplayNames(
                    c.Name, qemuShrinks ? "shrunk by qemu-img" : "shrunk by us", qemuGrows ? "grown by qemu-img" : "grown by us");
            }
        }
    }

    [TestCaseSource(nameof(ShrinkGrowCases))]
    public void ShrinkThenGrow_EverythingPastShrunkSizeReadsZero(string options, string[] writes, long shrinkTo, bool qemuShrinks, bool qemuGrows)
    {
        // QEMU 7.2 zeroes only an allocated run at the old end on grow; subclusters allocated further on came back.
        const long grown = 4 << 20;
        string image = PathOf("x.qcow2");
        QemuTools.Create(image, options, 8 << 20);
        QemuTools.QemuIo(image, writes);
        if (qemuShrinks)
        {
            QemuTools.Ok("qemu-img", "resize", "-q", "--shrink", image, shrinkTo.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        else
        {
            ImageResizer.Resize(image, shrinkTo, allowShrink: true);
        }

        if (qemuGrows)
        {
            QemuTools.Ok("qemu-img", "resize", "-q", image, grown.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        else
        {
            ImageResizer.Resize(image, grown, allowShrink: false);
        }

        string raw = PathOf("x.raw");
        QemuTools.Ok("qemu-img", "convert", "-O", "raw", image, raw);
        var converted = File.ReadAllBytes(raw);
        var ours = new byte[grown - shrinkTo];
        using (var disk = Qcow2Mount.Core.Qcow2.Qcow2Image.Open(image, new ImageOpenOptions { ReadOnly = true }))
        {
            disk.Read(shrinkTo, ours);
        }

        var qemuIo = QemuTools.Run("qemu-io", "-f", "qcow2", "-c", $"read -P 0 {shrinkTo} {grown - shrinkTo}", image);
        Assert.Multiple(() =>
        {
            Assert.That(converted, Has.Length.EqualTo(grown));
            Assert.That(converted.AsSpan((int)shrinkTo).IndexOfAnyExcept((byte)0), Is.EqualTo(-1), "qemu-img convert past the shrunk size");
            Assert.That(ours.AsSpan().IndexOfAnyExcept((byte)0), Is.EqualTo(-1), "our read past the shrunk size");
            Assert.That(qemuIo.Stdout, Does.Not.Contain("Pattern verification failed"), "qemu-io read -P 0 past the shrunk size");
            Assert.That(converted.AsSpan(0, 1 << 20).ToArray(), Is.All.EqualTo(converted[0]).And.All.Not.Zero, "data before the end");
            Assert.That(QemuTools.CheckJson(image).Code, Is.EqualTo(0));
        });
    }

    [TestCase("cluster_size=65536")]
    [TestCase("extended_l2=on,cluster_size=65536")]
    public void Grow_OverLongerBacking_NewAreaReadsZero(string options)
    {
        string baseImage = PathOf("base.qcow2"), top = PathOf("top.qcow2");
        QemuTools.Create(baseImage, "cluster_size=65536", 8 << 20);
        QemuTools.QemuIo(baseImage, "write -P 9 0 8M");
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", options, "-b", "base.qcow2", "-F", "qcow2", top, "2M");
        ImageResizer.Resize(top, 3_000_320, allowShrink: false);
        ImageResizer.Resize(top, 10 << 20, allowShrink: false);
        QemuTools.QemuIo(top, "read -P 9 0 2M", "read -P 0 2M 8M");
        Assert.That(QemuTools.CheckJson(top).Code, Is.EqualTo(0));
    }

    [TestCase(8L << 20, false)]
    [TestCase(2L << 20, true)]
    public void Resize_V2ImageWithSnapshots_RefusedLikeQemuAndUntouched(long newSize, bool shrink)
    {
        string image = PathOf("v2.qcow2");
        QemuTools.Create(image, "compat=0.10,cluster_size=65536", 4 << 20);
        QemuTools.QemuIo(image, "write -P 1 0 3M");
        QemuTools.Ok("qemu-img", "snapshot", "-c", "s", image);
        QemuTools.QemuIo(image, "write -P 2 0 1M");
        byte[] before = File.ReadAllBytes(image);

        Assert.That(
            () => ImageResizer.Resize(image, newSize, allowShrink: shrink),
            Throws.TypeOf<Errors.UnsupportedFeatureException>().With.Message.EqualTo($"{image}: Can't resize a v2 image which has snapshots"));
        Assert.That(File.ReadAllBytes(image), Is.EqualTo(before), "the image is untouched");
        QemuTools.Ok("qemu-img", "snapshot", "-a", "s", image);
        QemuTools.QemuIo(image, "read -P 1 0 3M", "read -P 0 3M 1M");
        Assert.That(QemuTools.CheckJson(image).Code, Is.EqualTo(0));
    }

    [TestCase(64L << 20)]
    [TestCase(1L << 20)]
    public void ImageResizer_LazyRefcounts_DirtyBitClearQemuClean(long newSize)
    {
        string image = PathOf("lazy.qcow2");
        QemuTools.Create(image, "lazy_refcounts=on,cluster_size=65536", 8 << 20);
        QemuTools.QemuIo(image, "write -P 3 0 3M", "write -P 4 6M 1M");
        ImageResizer.Resize(image, newSize, allowShrink: true);
        Assert.Multiple(() =>
        {
            Assert.That(ImageBytes.ReadU64(image, 72) & 1, Is.Zero, "dirty bit on disk");
            Assert.That(QemuTools.CheckJson(image).Code, Is.EqualTo(0));
        });
    }

    [TestCase(1000, "The new size must be a multiple of 512")]
    [TestCase(1 << 20, "Use the --shrink option to perform a shrink operation.")]
    [TestCase(0, "New image size must be positive")]
    public void Resize_InvalidSize_ThrowsQemuImgMessage(long size, string message)
    {
        string image = PathOf("x.qcow2");
        QemuTools.Create(image, "cluster_size=65536", 2 << 20);
        Assert.That(() => ImageResizer.Resize(image, size, allowShrink: false), Throws.ArgumentException.With.Message.EqualTo(message));
    }
}
