using Qcow2Mount.Core.Tools;

namespace Qcow2Mount.Core.Tests.Tools;

[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class ImageMapTests : ToolsTestDirectory
{
    private static readonly TestCaseData[] Images =
    [
        new TestCaseData("cluster_size=65536", new[] { "write 0 1M", "write -z 2M 128k", "write 3M 4k" }, null).SetName("Standard"),
        new TestCaseData("extended_l2=on,cluster_size=65536", new[] { "write -P 1 1k 3k", "write 100k 300k", "write -z 1M 64k", "write -z 1100k 4k", "write -c 2M 64k" }, null).SetName("ExtendedL2"),
        new TestCaseData("extended_l2=on,cluster_size=65536", new[] { "write -P 2 512k 4k", "write -z 2M 64k", "write -c -P 3 3M 64k", "write -z 3200k 4k" }, "qcow2").SetName("ExtendedL2OverQcow2Backing"),
        new TestCaseData("cluster_size=4096,extended_l2=off", new[] { "write 0 10k", "write 1M 1M" }, "raw").SetName("StandardOverRawBacking"),
        new TestCaseData("extended_l2=on,preallocation=metadata", new[] { "write 64k 64k" }, null).SetName("ExtendedL2Preallocated"),
        new TestCaseData("extended_l2=off,preallocation=metadata", new[] { "write 64k 64k", "write 1M 4k" }, null).SetName("StandardPreallocated"),
        new TestCaseData("data_file=DIR/data.raw,data_file_raw=on", new[] { "write 0 1M" }, null).SetName("ExternalDataFile"),
    ];

    [TestCaseSource(nameof(Images))]
    public void Build_QemuMadeImage_SameEntriesAsQemuImgMap(string options, string[] commands, string? backingFormat)
    {
        string image = PathOf("top.qcow2");
        if (backingFormat is not null)
        {
            string backing = PathOf("base." + backingFormat);
            QemuTools.Ok("qemu-img", "create", "-q", "-f", backingFormat, backing, "4M");
            if (backingFormat == "qcow2")
            {
                QemuTools.QemuIo(backing, "write -P 1 0 1M", "write -z 1M 64k");
            }
            else
            {
                QemuTools.Ok("qemu-io", "-f", "raw", "-c", "write -P 1 0 1M", backing);
            }

            QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", options, "-b", Path.GetFileName(backing), "-F", backingFormat, image, "8M");
        }
        else
        {
            QemuTools.Create(image, options.Replace("DIR/", Dir + "/", StringComparison.Ordinal), 8 << 20);
        }

        QemuTools.QemuIo(image, commands);
        var ours = ImageMap.Build(image);
        var theirs = QemuTools.Json(QemuTools.Ok("qemu-img", "map", "--output=json", image)).AsArray();
        Assert.That(ours, Has.Count.EqualTo(theirs.Count), string.Join("\n", ours));
        Assert.Multiple(() =>
        {
            for (int i = 0; i < theirs.Count; i++)
            {
                var t = theirs[i]!;
                var o = ours[i];
                string where = $"entry {i}: ours {o}, theirs {t.ToJsonString()}";
                Assert.That(o.Start, Is.EqualTo(t["start"]!.GetValue<long>()), where);
                Assert.That(o.Length, Is.EqualTo(t["length"]!.GetValue<long>()), where);
                Assert.That(o.Depth, Is.EqualTo(t["depth"]!.GetValue<int>()), where);
                Assert.That(o.Present, Is.EqualTo(t["present"]!.GetValue<bool>()), where);
                Assert.That(o.Zero, Is.EqualTo(t["zero"]!.GetValue<bool>()), where);
                Assert.That(o.Data, Is.EqualTo(t["data"]!.GetValue<bool>()), where);
                Assert.That(o.Offset, Is.EqualTo(t["offset"]?.GetValue<long>()), where);
            }
        });
    }
}
