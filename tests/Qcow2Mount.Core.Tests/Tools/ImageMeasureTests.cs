using System.Globalization;
using System.Text.Json.Nodes;
using Qcow2Mount.Core.Tools.Measure;

namespace Qcow2Mount.Core.Tests.Tools;

/// <summary>
/// ImageMeasure and Qcow2Layout against qemu-img measure: for virtual sizes over a matrix of cluster sizes,
/// extended L2 on/off and refcount widths, and for real source images (sparse, partly allocated, extended L2,
/// compressed, preallocated, with a backing chain, raw, with persistent bitmaps) measured for several targets.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class ImageMeasureTests : ToolsTestDirectory
{
    private static readonly string[] Sizes = ["0", "1", "1000", "65537", "1M", "1G", "100G", "3T", "1000T"];

    [TestCase(512)]
    [TestCase(4096)]
    [TestCase(16384)]
    [TestCase(65536)]
    [TestCase(131072)]
    [TestCase(2097152)]
    public void ForSize_MatrixOfLayouts_SameAsQemuImgMeasure(int clusterSize)
    {
        Assert.Multiple(() =>
        {
            foreach (bool extended in new[] { false, true })
            {
                foreach (int refcountBits in new[] { 1, 16, 64 })
                {
                    foreach (string size in Sizes)
                    {
                        string options = $"cluster_size={clusterSize},extended_l2={(extended ? "on" : "off")},refcount_bits={refcountBits}";
                        var theirs = QemuTools.Run("qemu-img", "measure", "--output=json", "-O", "qcow2", "-o", options, "--size", size);
                        long bytes = Bytes(size);
                        bool refused = Qcow2Layout.IsTooLarge(bytes, clusterSize, extended) || (extended && clusterSize < 16384);
                        if (theirs.Code != 0)
                        {
                            Assert.That(refused, Is.True, $"{options} --size {size}: qemu-img refused it: {theirs.Stderr}");
                            continue;
                        }

                        Assert.That(refused, Is.False, $"{options} --size {size}: qemu-img accepted it");
                        var target = new MeasureTarget { Format = "qcow2", ClusterSize = clusterSize, ExtendedL2 = extended, RefcountBits = refcountBits };
                        var ours = ImageMeasure.ForSize(bytes, target);
                        var json = QemuTools.Json(theirs.Stdout);
                        Assert.That(ours.Required, Is.EqualTo(json["required"]!.GetValue<long>()), $"required, {options} --size {size}");
                        Assert.That(ours.FullyAllocated, Is.EqualTo(json["fully-allocated"]!.GetValue<long>()), $"fully allocated, {options} --size {size}");
                    }
                }
            }
        });
    }

    [TestCase("0")]
    [TestCase("1000")]
    [TestCase("1G")]
    public void ForSize_RawTarget_SameAsQemuImgMeasure(string size)
    {
        var json = QemuTools.Json(QemuTools.Ok("qemu-img", "measure", "--output=json", "-O", "raw", "--size", size));
        var ours = ImageMeasure.ForSize(Bytes(size), new MeasureTarget { Format = "raw" });
        Assert.That((ours.Required, ours.FullyAllocated), Is.EqualTo((json["required"]!.GetValue<long>(), json["fully-allocated"]!.GetValue<long>())));
    }

    [Test]
    public void ForSize_FullPreallocation_RequiresEverything()
    {
        var json = QemuTools.Json(QemuTools.Ok("qemu-img", "measure", "--output=json", "-O", "qcow2", "-o", "preallocation=full", "--size", "1G"));
        var ours = ImageMeasure.ForSize(1L << 30, new MeasureTarget { Format = "qcow2", PreallocateData = true });
        Assert.That((ours.Required, ours.FullyAllocated), Is.EqualTo((json["required"]!.GetValue<long>(), json["fully-allocated"]!.GetValue<long>())));
    }

    [Test]
    public void RefcountClusters_CountsItsOwnClusters()
    {
        // 16-bit refcounts in 512-byte clusters: 256 per block, 64 blocks per table cluster.
        var (table, blocks) = Qcow2Layout.RefcountClusters(256, 512, 16);
        Assert.Multiple(() =>
        {
            Assert.That(blocks, Is.EqualTo(2), "256 clusters plus the block itself and the table need a second block");
            Assert.That(table, Is.EqualTo(1));
            Assert.That(Qcow2Layout.RefcountClusters(0, 65536, 16), Is.EqualTo((0L, 0L)));
        });
    }

    private static readonly string[] Targets =
    [
        "cluster_size=512,extended_l2=off",
        "cluster_size=4096,extended_l2=off,refcount_bits=1",
        "cluster_size=65536,extended_l2=off",
        "cluster_size=65536,extended_l2=on,refcount_bits=64",
        "cluster_size=2M,extended_l2=on",
        "cluster_size=65536,extended_l2=off,backing_file=anything",
        "cluster_size=65536,extended_l2=off,preallocation=falloc",
        "cluster_size=65536,extended_l2=off,compat=0.10",
    ];

    [Test]
    public void ForImage_QemuMadeSources_SameAsQemuImgMeasure([Values("sparse", "partial", "extended", "compressed", "preallocated", "overlay", "raw", "bitmaps", "v2", "odd")] string kind)
    {
        var (path, format) = Source(kind);
        Assert.Multiple(() =>
        {
            foreach (string options in Targets)
            {
                var json = QemuTools.Json(QemuTools.Ok("qemu-img", "measure", "--output=json", "-f", format, "-O", "qcow2", "-o", options, path));
                var ours = ImageMeasure.ForImage(path, format, Target(options));
                Assert.That(ours.Required, Is.EqualTo(json["required"]!.GetValue<long>()), $"required for {options}");
                Assert.That(ours.FullyAllocated, Is.EqualTo(json["fully-allocated"]!.GetValue<long>()), $"fully allocated for {options}");
                Assert.That(ours.Bitmaps, Is.EqualTo(json["bitmaps"]?.GetValue<long>()), $"bitmaps for {options}");
            }

            var raw = QemuTools.Json(QemuTools.Ok("qemu-img", "measure", "--output=json", "-f", format, "-O", "raw", path));
            var ourRaw = ImageMeasure.ForImage(path, format, new MeasureTarget { Format = "raw" });
            Assert.That(ourRaw.Required, Is.EqualTo(raw["required"]!.GetValue<long>()), "raw target");
        });
    }

    private (string Path, string Format) Source(string kind)
    {
        string image = PathOf("src.qcow2");
        switch (kind)
        {
            case "sparse":
                QemuTools.Create(image, "cluster_size=65536", 1L << 30);
                break;
            case "partial":
                QemuTools.Create(image, "cluster_size=65536", 64L << 20);
                QemuTools.QemuIo(image, "write -P 1 0 3M", "write -P 2 10M 4k", "write -z 20M 1M", "write -P 0 30M 64k", "write -P 3 41946112 1k");
                break;
            case "extended":
                QemuTools.Create(image, "extended_l2=on,cluster_size=131072", 64L << 20);
                QemuTools.QemuIo(image, "write -P 3 40M 4k", "write -P 3 42078208 4k", "write -P 4 50M 8k", "write -z 0 64k", "write -P 5 60M 1M");
                break;
            case "compressed":
                QemuTools.Create(image, "cluster_size=65536", 16L << 20);
                QemuTools.QemuIo(image, "write -c -P 1 0 64k", "write -c -P 2 5M 64k", "write -P 3 8M 64k");
                break;
            case "preallocated":
                QemuTools.Create(image, "preallocation=metadata,cluster_size=65536", 16L << 20);
                QemuTools.QemuIo(image, "write -P 1 0 64k", "write -P 1 3M 4k");
                break;
            case "overlay":
                QemuTools.Create(PathOf("base.qcow2"), "cluster_size=65536", 32L << 20);
                QemuTools.QemuIo(PathOf("base.qcow2"), "write -P 1 0 8M", "write -P 2 20M 64k");
                QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "extended_l2=on", "-b", "base.qcow2", "-F", "qcow2", image, "40M");
                QemuTools.QemuIo(image, "write -P 3 1M 4k", "write -z 2M 1M", "write -P 4 36M 4k");
                break;
            case "raw":
                image = PathOf("src.raw");
                QemuTools.Ok("qemu-img", "create", "-q", "-f", "raw", image, "32M");
                QemuTools.Ok("qemu-io", "-f", "raw", "-c", "write -P 1 1M 100k", "-c", "write -P 2 20M 4k", image);
                return (image, "raw");
            case "bitmaps":
                QemuTools.Create(image, "cluster_size=65536", 100L << 20);
                QemuTools.QemuIo(image, "write -P 1 0 1M");
                QemuTools.Ok("qemu-img", "bitmap", "--add", image, "b1");
                QemuTools.Ok("qemu-img", "bitmap", "--add", "-g", "512", image, "a-longer-bitmap-name");
                break;
            case "v2":
                QemuTools.Create(image, "compat=0.10,cluster_size=4096", 8L << 20);
                QemuTools.QemuIo(image, "write -P 1 1M 1M");
                break;
            case "odd":
                image = PathOf("src.raw");
                File.WriteAllBytes(image, Enumerable.Repeat((byte)7, 100_001).ToArray());
                return (image, "raw");
        }

        return (image, "qcow2");
    }

    private static MeasureTarget Target(string options)
    {
        var o = options.Split(',').Select(kv => kv.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]);
        return new MeasureTarget
        {
            Format = "qcow2",
            ClusterSize = (int)Bytes(o["cluster_size"]),
            ExtendedL2 = o["extended_l2"] == "on",
            RefcountBits = o.TryGetValue("refcount_bits", out var rb) ? int.Parse(rb, CultureInfo.InvariantCulture) : 16,
            Version = o.TryGetValue("compat", out var c) && c == "0.10" ? 2 : 3,
            HasBackingFile = o.ContainsKey("backing_file"),
            PreallocateData = o.TryGetValue("preallocation", out var p) && p is "falloc" or "full",
        };
    }

    private static long Bytes(string size)
    {
        int shift = size[^1] switch { 'k' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 };
        return long.Parse(shift == 0 ? size : size[..^1], CultureInfo.InvariantCulture) << shift;
    }
}
