using System.Text.Json.Nodes;
using Qcow2Mount.Core.Tools;

namespace Qcow2Mount.Core.Tests.Tools;

[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class ImageInfoTests : ToolsTestDirectory
{
    [Test]
    public void Read_QcowWithSnapshotsAndBacking_MatchesQemuImgInfo()
    {
        string baseImage = PathOf("base.qcow2"), top = PathOf("top.qcow2");
        QemuTools.Create(baseImage, "cluster_size=65536,refcount_bits=8", 8 << 20);
        QemuTools.QemuIo(baseImage, "write 0 1M");
        QemuTools.Ok("qemu-img", "snapshot", "-c", "one", baseImage);
        QemuTools.Ok("qemu-img", "snapshot", "-c", "a rather long snapshot name", baseImage);
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "extended_l2=on,lazy_refcounts=on,compression_type=zstd", "-b", "base.qcow2", "-F", "qcow2", top, "16M");

        var ours = ImageInfo.Read(top);
        var theirs = QemuTools.Json(QemuTools.Ok("qemu-img", "info", "--output=json", top)).AsObject();
        var oursBase = ImageInfo.Read(baseImage);
        var theirsBase = QemuTools.Json(QemuTools.Ok("qemu-img", "info", "--output=json", baseImage)).AsObject();
        Assert.Multiple(() =>
        {
            AssertSame(ours, theirs);
            AssertSame(oursBase, theirsBase);
            Assert.That(ImageInfo.ReadChain(top).Select(i => i.Filename), Is.EqualTo(new[] { top, baseImage }));
        });
    }

    [TestCase("compat=0.10")]
    [TestCase("data_file=DIR/data.raw,data_file_raw=on")]
    [TestCase("refcount_bits=1,cluster_size=512")]
    public void Read_VariousOptions_MatchesQemuImgInfo(string options)
    {
        string image = PathOf("x.qcow2");
        QemuTools.Create(image, options.Replace("DIR/", Dir + "/", StringComparison.Ordinal), 1 << 20);
        AssertSame(ImageInfo.Read(image), QemuTools.Json(QemuTools.Ok("qemu-img", "info", "--output=json", image)).AsObject());
    }

    [Test]
    public void Read_RawFile_MatchesQemuImgInfo()
    {
        string image = PathOf("x.raw");
        File.WriteAllBytes(image, new byte[3 << 20]);
        AssertSame(ImageInfo.Read(image), QemuTools.Json(QemuTools.Ok("qemu-img", "info", "-f", "raw", "--output=json", image)).AsObject());
    }

    [TestCase("a.qcow2", "b.qcow2", "b.qcow2")]
    [TestCase("dir/a.qcow2", "b.qcow2", "dir/b.qcow2")]
    [TestCase("/x/a.qcow2", "../b.qcow2", "/x/../b.qcow2")]
    [TestCase("dir/a.qcow2", "/abs/b.qcow2", "/abs/b.qcow2")]
    public void CombinePath_JoinsAsQemuDoes(string referrer, string name, string expected)
    {
        Assert.That(ImageInfo.CombinePath(referrer, name), Is.EqualTo(expected));
    }

    private static void AssertSame(ImageInfo ours, JsonObject theirs)
    {
        Assert.That(ours.VirtualSize, Is.EqualTo(theirs["virtual-size"]!.GetValue<long>()));
        Assert.That(ours.Format, Is.EqualTo(theirs["format"]!.GetValue<string>()));
        Assert.That(ours.ActualSize, Is.EqualTo(theirs["actual-size"]!.GetValue<long>()));
        Assert.That(ours.DirtyFlag, Is.EqualTo(theirs["dirty-flag"]!.GetValue<bool>()));
        Assert.That(ours.ClusterSize, Is.EqualTo(theirs["cluster-size"]?.GetValue<int>()));
        Assert.That(ours.BackingFilename, Is.EqualTo(theirs["backing-filename"]?.GetValue<string>()));
        Assert.That(ours.FullBackingFilename, Is.EqualTo(theirs["full-backing-filename"]?.GetValue<string>()));
        Assert.That(ours.BackingFormat, Is.EqualTo(theirs["backing-filename-format"]?.GetValue<string>()));
        if (theirs["format-specific"]?["data"] is JsonObject data)
        {
            Assert.That(ours.Qcow2!.Compat, Is.EqualTo(data["compat"]!.GetValue<string>()));
            Assert.That(ours.Qcow2.CompressionType, Is.EqualTo(data["compression-type"]!.GetValue<string>()));
            Assert.That(ours.Qcow2.RefcountBits, Is.EqualTo(data["refcount-bits"]!.GetValue<int>()));
            Assert.That(ours.Qcow2.LazyRefcounts, Is.EqualTo(data["lazy-refcounts"]?.GetValue<bool>() ?? false));
            Assert.That(ours.Qcow2.Corrupt, Is.EqualTo(data["corrupt"]?.GetValue<bool>() ?? false));
            Assert.That(ours.Qcow2.ExtendedL2, Is.EqualTo(data["extended-l2"]?.GetValue<bool>() ?? false));
            Assert.That(ours.Qcow2.DataFile, Is.EqualTo(data["data-file"]?.GetValue<string>()));
            Assert.That(ours.Qcow2.DataFileRaw, Is.EqualTo(data["data-file-raw"]?.GetValue<bool>() ?? false));
        }

        var snapshots = theirs["snapshots"]?.AsArray() ?? [];
        Assert.That(ours.Snapshots, Has.Count.EqualTo(snapshots.Count));
        for (int i = 0; i < snapshots.Count; i++)
        {
            var s = snapshots[i]!;
            var o = ours.Snapshots[i];
            Assert.That(o.Id, Is.EqualTo(s["id"]!.GetValue<string>()));
            Assert.That(o.Name, Is.EqualTo(s["name"]!.GetValue<string>()));
            Assert.That(o.DateSeconds, Is.EqualTo(s["date-sec"]!.GetValue<long>()));
            Assert.That(o.DateNanoseconds, Is.EqualTo(s["date-nsec"]!.GetValue<long>()));
            Assert.That(o.VmStateSize, Is.EqualTo(s["vm-state-size"]!.GetValue<long>()));
            Assert.That(o.Icount, Is.EqualTo(s["icount"]?.GetValue<long>()));
        }
    }
}
