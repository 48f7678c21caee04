using System.Text.Json.Nodes;

namespace Qcow2Mount.Cli.Tests.Commands;

/// <summary>The tool verbs print what qemu-img prints for the same image: text byte for byte, JSON field for field.</summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class QemuOutputTests : CommandTestBase
{
    [TestCase("cluster_size=65536,extended_l2=off", "1G")]
    [TestCase("cluster_size=131072,extended_l2=on,refcount_bits=1,lazy_refcounts=on", "10M")]
    [TestCase("compat=0.10,cluster_size=65536,extended_l2=off", "1000")]
    [TestCase("extended_l2=on,cluster_size=65536,preallocation=metadata,compression_type=zstd", "3M")]
    public void Create_FormattingLine_SameAsQemuImg(string options, string size)
    {
        var ours = CliHarness.Run("create", "-o", options, PathOf("ours.qcow2"), size);
        var theirs = QemuTools.Run("qemu-img", "create", "-f", "qcow2", "-o", options, PathOf("theirs.qcow2"), size);
        Assert.Multiple(() =>
        {
            Assert.That(ours.Code, Is.EqualTo(0), ours.Stderr);
            Assert.That(ours.Stdout.Replace("ours.qcow2", "x", StringComparison.Ordinal), Is.EqualTo(theirs.Stdout.Replace("theirs.qcow2", "x", StringComparison.Ordinal)));
        });
    }

    [Test]
    public void Create_Defaults_ExtendedL2With128KClusters_AndBackingSizeFromBacking()
    {
        QemuImage("base.qcow2", "cluster_size=65536", "5M");
        var ours = CliHarness.Run("create", "-b", "base.qcow2", "-F", "qcow2", PathOf("top.qcow2"));
        var info = JsonNode.Parse(QemuTools.Run("qemu-img", "info", "--output=json", PathOf("top.qcow2")).Stdout)!;
        Assert.Multiple(() =>
        {
            Assert.That(ours.Stdout, Is.EqualTo($"Formatting '{PathOf("top.qcow2")}', fmt=qcow2 cluster_size=131072 extended_l2=on compression_type=zlib size=5242880 backing_file=base.qcow2 backing_fmt=qcow2 lazy_refcounts=off refcount_bits=16\n"));
            Assert.That(info["virtual-size"]!.GetValue<long>(), Is.EqualTo(5L << 20));
            Assert.That(info["format-specific"]!["data"]!["extended-l2"]!.GetValue<bool>(), Is.True);
            Assert.That(QemuTools.Run("qemu-img", "check", PathOf("top.qcow2")).Code, Is.EqualTo(0));
        });
    }

    /// <summary>Without SIZE the backing file supplies it, given as -b/-F or as -o backing_file/backing_fmt, qcow2 or raw.</summary>
    [TestCase("qcow2", "-o", "backing_file=base.img,backing_fmt=qcow2")]
    [TestCase("qcow2", "-b", "base.img", "-F", "qcow2")]
    [TestCase("raw", "-o", "backing_file=base.img,backing_fmt=raw")]
    [TestCase("raw", "-b", "base.img", "-F", "raw")]
    public void Create_WithoutSize_TakesTheBackingFileSizeAsQemuImgDoes(string baseFormat, params string[] backing)
    {
        QemuTools.Ok("qemu-img", "create", "-q", "-f", baseFormat, PathOf("base.img"), "3000k");
        string[] common = ["-o", "cluster_size=65536,extended_l2=off", .. backing];
        var ours = CliHarness.Run(["create", .. common, PathOf("ours.qcow2")]);
        var theirs = QemuTools.Run("qemu-img", ["create", "-f", "qcow2", .. common, PathOf("theirs.qcow2")]);
        var ourInfo = JsonNode.Parse(QemuTools.Run("qemu-img", "info", "--output=json", PathOf("ours.qcow2")).Stdout)!;
        var theirInfo = JsonNode.Parse(QemuTools.Run("qemu-img", "info", "--output=json", PathOf("theirs.qcow2")).Stdout)!;
        Assert.Multiple(() =>
        {
            Assert.That(ours.Code, Is.EqualTo(0), ours.Stderr);
            Assert.That(theirs.Code, Is.EqualTo(0), theirs.Stderr);
            Assert.That(ours.Stdout.Replace("ours.qcow2", "x", StringComparison.Ordinal), Is.EqualTo(theirs.Stdout.Replace("theirs.qcow2", "x", StringComparison.Ordinal)));
            Assert.That(ourInfo["virtual-size"]!.GetValue<long>(), Is.EqualTo(3000L * 1024).And.EqualTo(theirInfo["virtual-size"]!.GetValue<long>()));
            Assert.That(ourInfo["backing-filename"]!.GetValue<string>(), Is.EqualTo(theirInfo["backing-filename"]!.GetValue<string>()));
            Assert.That(ourInfo["backing-filename-format"]!.GetValue<string>(), Is.EqualTo(baseFormat));
            Assert.That(QemuTools.Run("qemu-img", "check", PathOf("ours.qcow2")).Code, Is.EqualTo(0));
        });
    }

    public static readonly TestCaseData[] CheckImages =
    [
        new TestCaseData("clean", 0).SetName("Clean"),
        new TestCaseData("leak", 3).SetName("Leaks"),
        new TestCaseData("corrupt", 2).SetName("Corruptions"),
        new TestCaseData("compressed", 0).SetName("Compressed"),
    ];

    [TestCaseSource(nameof(CheckImages))]
    public void Check_HumanAndJson_SameAsQemuImg(string kind, int expectedCode)
    {
        string image = CheckImage(kind);
        var human = CliHarness.Run("check", image);
        var theirHuman = QemuTools.Run("qemu-img", "check", image);
        var json = CliHarness.Run("check", "--output=json", image);
        var theirJson = QemuTools.Run("qemu-img", "check", "--output=json", image);
        Assert.Multiple(() =>
        {
            Assert.That(human.Code, Is.EqualTo(expectedCode));
            Assert.That(theirHuman.Code, Is.EqualTo(expectedCode));
            Assert.That(human.Stdout, Is.EqualTo(theirHuman.Stdout));
            Assert.That(human.Stderr, Is.EqualTo(theirHuman.Stderr));
            Assert.That(json.Code, Is.EqualTo(expectedCode));
            Assert.That(JsonNode.DeepEquals(JsonNode.Parse(json.Stdout), JsonNode.Parse(theirJson.Stdout)), Is.True, $"ours {json.Stdout}\ntheirs {theirJson.Stdout}");
        });
    }

    [TestCase("leaks")]
    [TestCase("all")]
    public void CheckRepair_LeakedImage_SameOutputAsQemuImg(string mode)
    {
        string ours = CheckImage("leak");
        string theirs = PathOf("theirs.qcow2");
        File.Copy(ours, theirs);
        var a = CliHarness.Run("check", "-r", mode, "--output=json", ours);
        var b = QemuTools.Run("qemu-img", "check", "-r", mode, "--output=json", theirs);
        var nodeA = JsonNode.Parse(a.Stdout)!.AsObject();
        var nodeB = JsonNode.Parse(b.Stdout)!.AsObject();
        nodeA.Remove("filename");
        nodeB.Remove("filename");
        Assert.Multiple(() =>
        {
            Assert.That(a.Code, Is.EqualTo(b.Code));
            Assert.That(JsonNode.DeepEquals(nodeA, nodeB), Is.True, $"ours {a.Stdout}\ntheirs {b.Stdout}");
            Assert.That(QemuTools.Run("qemu-img", "check", ours).Code, Is.EqualTo(0));
        });
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Info_HumanAndJson_SameAsQemuImg(bool backingChain)
    {
        string baseImage = QemuImage("base.qcow2", "cluster_size=65536,refcount_bits=4", "8M", "write 0 1M");
        QemuTools.Ok("qemu-img", "snapshot", "-c", "snap", baseImage);
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "extended_l2=on", "-b", "base.qcow2", "-F", "qcow2", PathOf("top.qcow2"), "16M");
        string[] extra = backingChain ? ["--backing-chain"] : [];
        var human = CliHarness.Run(["info", .. extra, PathOf("top.qcow2")]);
        var theirHuman = QemuTools.Run("qemu-img", ["info", .. extra, PathOf("top.qcow2")]);
        var json = CliHarness.Run(["info", "--output=json", .. extra, PathOf("top.qcow2")]);
        var theirJson = QemuTools.Run("qemu-img", ["info", "--output=json", .. extra, PathOf("top.qcow2")]);
        Assert.Multiple(() =>
        {
            Assert.That(human.Code, Is.EqualTo(0));
            Assert.That(human.Stdout, Is.EqualTo(theirHuman.Stdout));
            Assert.That(JsonNode.DeepEquals(JsonNode.Parse(json.Stdout), JsonNode.Parse(theirJson.Stdout)), Is.True, $"ours {json.Stdout}\ntheirs {theirJson.Stdout}");
        });
    }

    [Test]
    public void Info_ImageWithBitmaps_HumanAndJsonSameAsQemuImg()
    {
        string image = QemuImage("bm.qcow2", "cluster_size=65536", "64M");
        QemuTools.Ok("qemu-img", "bitmap", "--add", image, "b1");
        QemuTools.Ok("qemu-img", "bitmap", "--add", "-g", "512k", "--disable", image, "b2");
        QemuTools.Ok("qemu-io", "-f", "qcow2", "-c", "write 0 1M", image);
        var human = CliHarness.Run("info", image);
        var json = CliHarness.Run("info", "--output=json", image);
        var check = CliHarness.Run("check", "--output=json", image);
        Assert.Multiple(() =>
        {
            Assert.That(human.Stdout, Is.EqualTo(QemuTools.Run("qemu-img", "info", image).Stdout));
            Assert.That(JsonNode.DeepEquals(JsonNode.Parse(json.Stdout), JsonNode.Parse(QemuTools.Run("qemu-img", "info", "--output=json", image).Stdout)), Is.True, json.Stdout);
            Assert.That(JsonNode.DeepEquals(JsonNode.Parse(check.Stdout), JsonNode.Parse(QemuTools.Run("qemu-img", "check", "--output=json", image).Stdout)), Is.True, check.Stdout);
        });
    }

    [Test]
    public void Map_HumanAndJson_SameAsQemuImg()
    {
        QemuImage("base.qcow2", "cluster_size=65536", "4M", "write -P 1 0 1M", "write -z 1M 64k");
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "extended_l2=on", "-b", "base.qcow2", "-F", "qcow2", PathOf("top.qcow2"), "8M");
        QemuTools.Ok("qemu-io", "-f", "qcow2", "-c", "write -P 2 512k 4k", "-c", "write -z 2M 64k", "-c", "write 5M 1M", PathOf("top.qcow2"));
        var human = CliHarness.Run("map", PathOf("top.qcow2"));
        var theirHuman = QemuTools.Run("qemu-img", "map", PathOf("top.qcow2"));
        var json = CliHarness.Run("map", "--output=json", PathOf("top.qcow2"));
        var theirJson = QemuTools.Run("qemu-img", "map", "--output=json", PathOf("top.qcow2"));
        Assert.Multiple(() =>
        {
            Assert.That(human.Stdout, Is.EqualTo(theirHuman.Stdout));
            Assert.That(json.Stdout, Is.EqualTo(theirJson.Stdout));
        });
    }

    [Test]
    public void ConvertThenResize_ViaCommandLine_QemuAgrees()
    {
        string source = QemuImage("src.qcow2", "cluster_size=65536", "4M", "write -P 5 0 1M", "write -c -P 6 2M 64k");
        string target = PathOf("dst.qcow2");
        var convert = CliHarness.Run("convert", "-O", "qcow2", "-c", "-o", "compression_type=zstd", source, target);
        var resize = CliHarness.Run("resize", target, "+2M");
        Assert.Multiple(() =>
        {
            Assert.That(convert.Code, Is.EqualTo(0), convert.Stderr);
            Assert.That(resize.Code, Is.EqualTo(0), resize.Stderr);
            Assert.That(resize.Stdout, Is.EqualTo("Image resized.\n"));
            Assert.That(QemuTools.Run("qemu-img", "compare", source, target).Code, Is.EqualTo(0));
            Assert.That(QemuTools.Run("qemu-img", "check", target).Code, Is.EqualTo(0));
        });
    }

    private string CheckImage(string kind)
    {
        string image = kind == "compressed"
            ? QemuImage("c.qcow2", "cluster_size=65536", "4M", "write -c 0 64k", "write 1M 64k", "write -c 2M 64k")
            : QemuImage("c.qcow2", "cluster_size=65536", "4M", "write 0 64k");
        if (kind == "clean" || kind == "compressed")
        {
            return image;
        }

        using (var f = new FileStream(image, FileMode.Open))
        {
            f.SetLength(2 << 20);
            var buffer = new byte[8];
            f.Position = 48;
            f.ReadExactly(buffer);
            long reftable = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(buffer);
            f.Position = reftable;
            f.ReadExactly(buffer);
            long refblock = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(buffer);
            f.Position = refblock + (2 * 24);
            f.Write([0, 1, 0, 1]);
            if (kind == "corrupt")
            {
                f.Position = refblock + (2 * 4);
                f.Write([0, 2]);
                f.Position = refblock + (2 * 3);
                f.Write([0, 1]);
            }
        }

        return image;
    }
}
