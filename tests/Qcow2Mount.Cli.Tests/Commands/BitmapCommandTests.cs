using System.Buffers.Binary;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Qcow2Mount.Core.Qcow2.Bitmaps;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Cli.Tests.Commands;

/// <summary>
/// <c>qcow2mount bitmap</c> against <c>qemu-img bitmap</c> on twin images: the same steps give the same exit codes,
/// the same messages (QEMU's node name and our file name both read NODE) and the same bitmaps in qemu-img info; our
/// image passes qemu-img check with no leak. Also resize and info over bitmaps.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed partial class BitmapCommandTests
{
    public static IEnumerable<TestCaseData> Sequences()
    {
        // Each step: the arguments before IMAGE BITMAP, and the bitmap name. Message null: compare exit codes only.
        yield return Case("add default, add 512, add 2G, add 0 (default)", ["--add", "a"], ["--add -g 512", "b"], ["--add -g 2G", "c"], ["--add -g 0", "d"]);
        yield return Case("add then disable in one call, enable again", ["--add --disable", "a"], ["--enable", "a"], ["--disable --enable --disable", "a"]);
        yield return Case("remove then add the same name in one call", ["--add", "a"], ["--add", "b"], ["--remove --add", "a"]);
        yield return Case("add then remove in one call", ["--add --remove", "a"], ["--add", "b"], ["--remove", "b"]);
        yield return Case("clear", ["--add", "a"], ["--clear", "a"]);
        yield return Case("add an existing name; the steps before stay", ["--add", "a"], ["--add -g 4k", "b"], ["--clear --add", "a"]);
        yield return Case("missing names", ["--remove", "nope"], ["--clear", "nope"], ["--enable", "nope"], ["--disable", "nope"]);
        yield return Case("bad granularities", ["--add -g 1000", "a"], ["--add -g 256", "a"], ["--add -g 4G", "a"], ["--add -g -1", "a"], ["--add -g abc", "a"]);
        yield return Case("usage errors", ["", "a"], ["-g 64k --remove", "a"], ["--add -b x", "a"], ["--add -F raw", "a"]);
        yield return Case("name at and past the limit", ["--add", new string('n', 1023)], ["--add", new string('n', 1024)]);
        yield return Case("format raw", ["--add -f raw", "a"]);
        yield return Case("merge: missing source, missing target, into itself, add then merge", ["--add", "a"], ["--merge nope", "a"], ["--merge a", "nope"], ["--merge a", "a"], ["--add --merge a", "b"]);
    }

    [TestCaseSource(nameof(Sequences))]
    public void Steps_SameCodesMessagesAndBitmapsAsQemuImg(string[][] steps)
    {
        using var dir = new TempDir("bitmap-twin");
        string ours = dir.File("ours.qcow2");
        string theirs = dir.File("theirs.qcow2");
        QemuTools.Create(ours, 64 << 20);
        QemuTools.Create(theirs, 64 << 20);
        foreach (var step in steps)
        {
            string[] options = step[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var q = QemuTools.Run("qemu-img", ["bitmap", .. options, theirs, step[1]]);
            var o = CliHarness.Run(["bitmap", .. options, ours, step[1]]);
            string what = $"bitmap {step[0]} {step[1][..Math.Min(step[1].Length, 8)]}";
            Assert.That(o.Code, Is.EqualTo(q.Code), $"{what}: exit code; ours {o.Stderr} theirs {q.Stderr}");
            Assert.That(o.Stderr.TrimEnd('\n'), Does.Not.Contain('\n'), what + ": one line");
            if (!q.Stderr.Contains("Invalid granularity", StringComparison.Ordinal) && !q.Stderr.Contains("unrecognized option", StringComparison.Ordinal))
            {
                // (Where qemu-img's message spans two lines, ours is the same words on one.)
                Assert.That(Normalize(o.Stderr, ours), Is.EqualTo(Normalize(q.Stderr, theirs)), what);
            }
        }

        Assert.Multiple(() =>
        {
            Assert.That(BitmapsJson(ours), Is.EqualTo(BitmapsJson(theirs)));
            Assert.That(QemuTools.Check(ours).IsClean, Is.True, QemuTools.Check(ours).ToString());
        });
    }

    [Test]
    public void Add_V2Image_SameMessageAsQemuImgImageUnchanged()
    {
        using var dir = new TempDir("bitmap-v2");
        string ours = dir.File("ours.qcow2");
        string theirs = dir.File("theirs.qcow2");
        var v2 = new Dictionary<string, string> { ["compat"] = "0.10" };
        QemuTools.Create(ours, 1 << 20, v2);
        QemuTools.Create(theirs, 1 << 20, v2);
        byte[] before = File.ReadAllBytes(ours);
        var q = QemuTools.Run("qemu-img", "bitmap", "--add", theirs, "x");
        var o = CliHarness.Run("bitmap", "--add", ours, "x");
        Assert.Multiple(() =>
        {
            Assert.That(o.Code, Is.EqualTo(q.Code).And.EqualTo(1));
            Assert.That(Normalize(o.Stderr, ours), Is.EqualTo(Normalize(q.Stderr, theirs)));
            Assert.That(File.ReadAllBytes(ours), Is.EqualTo(before));
        });
    }

    [Test]
    public void Clear_BitmapWithData_QemuSeesItEmptyNoLeak()
    {
        using var dir = new TempDir("bitmap-clear");
        string image = dir.File("x.qcow2");
        QemuTools.Create(image, 64 << 20);
        QemuTools.Ok("qemu-img", "bitmap", "--add", "-g", "4k", image, "b");
        QemuTools.QemuIo(image, "write 0 1M", "write 30M 8k");
        Assert.That(QemuDirtyBitmap.DirtyRanges(image, "b"), Has.Count.EqualTo(2), "the oracle sees the writes first");
        Assert.That(CliHarness.Run("bitmap", "--clear", image, "b").Code, Is.Zero);
        Assert.Multiple(() =>
        {
            Assert.That(QemuDirtyBitmap.DirtyRanges(image, "b"), Is.Empty);
            Assert.That(QemuTools.Check(image).IsClean, Is.True, "the data clusters are freed");
        });
    }

    [Test]
    public void Merge_DifferentGranularities_QemuSeesWhatQemuImgMergeGives()
    {
        using var dir = new TempDir("bitmap-merge");
        string ours = dir.File("ours.qcow2");
        string theirs = dir.File("theirs.qcow2");
        foreach (string image in new[] { ours, theirs })
        {
            QemuTools.Create(image, 64 << 20);
            QemuTools.Ok("qemu-img", "bitmap", "--add", "-g", "4k", image, "fine");
            QemuTools.QemuIo(image, "write 0 4k", "write 1M 12k", "write 40M 1M");
            QemuTools.Ok("qemu-img", "bitmap", "--disable", image, "fine");
            QemuTools.Ok("qemu-img", "bitmap", "--add", "-g", "128k", image, "coarse");
            QemuTools.QemuIo(image, "write 8M 4k", "write 63M 1M");
            QemuTools.Ok("qemu-img", "bitmap", "--add", "--disable", "-g", "512", image, "empty");
        }

        foreach (var (source, target) in new[] { ("fine", "coarse"), ("coarse", "fine"), ("fine", "empty") })
        {
            QemuTools.Ok("qemu-img", "bitmap", "--merge", source, theirs, target);
            Assert.That(CliHarness.Run("bitmap", "--merge", source, ours, target).Code, Is.Zero);
        }

        Assert.Multiple(() =>
        {
            foreach (string name in new[] { "fine", "coarse", "empty" })
            {
                Assert.That(QemuDirtyBitmap.DirtyRanges(ours, name), Is.EqualTo(QemuDirtyBitmap.DirtyRanges(theirs, name)), name);
            }

            Assert.That(BitmapsJson(ours), Is.EqualTo(BitmapsJson(theirs)));
            Assert.That(QemuTools.Check(ours).IsClean, Is.True, QemuTools.Check(ours).ToString());
        });
    }

    [Test]
    public void Remove_InUseBitmapWithData_AsQemuImgNoLeak()
    {
        using var dir = new TempDir("bitmap-remove-inuse");
        string ours = dir.File("ours.qcow2");
        string theirs = dir.File("theirs.qcow2");
        foreach (string image in new[] { ours, theirs })
        {
            QemuTools.Create(image, 64 << 20);
            QemuTools.Ok("qemu-img", "bitmap", "--add", "-g", "4k", image, "a");
            QemuTools.QemuIo(image, "write 0 1M", "write 30M 8k");
            QemuTools.Ok("qemu-img", "bitmap", "--add", image, "b");
            SetFirstBitmapFlags(image, BitmapDirectoryEntry.FlagInUse | BitmapDirectoryEntry.FlagAuto);
        }

        var q = QemuTools.Run("qemu-img", "bitmap", "--remove", theirs, "a");
        var o = CliHarness.Run("bitmap", "--remove", ours, "a");
        Assert.Multiple(() =>
        {
            Assert.That(o.Code, Is.EqualTo(q.Code).And.Zero, o.Stderr);
            Assert.That(BitmapsJson(ours), Is.EqualTo(BitmapsJson(theirs)));
            Assert.That(QemuTools.Check(ours).IsClean, Is.True, "its table and data clusters are freed: " + QemuTools.Check(ours));
        });
    }

    [Test]
    public void Add_ImageHeldByQemuIo_Exit1WithTheLockMessage()
    {
        using var dir = new TempDir("bitmap-lock");
        string image = dir.File("x.qcow2");
        QemuTools.Create(image, 1 << 20);
        byte[] before = File.ReadAllBytes(image);
        (int Code, string Stdout, string Stderr) ours;
        using (new QemuIoHolder(image, "qcow2"))
        {
            ours = CliHarness.Run("bitmap", "--add", image, "b");
        }

        Assert.Multiple(() =>
        {
            Assert.That(ours.Code, Is.EqualTo(1));
            Assert.That(ours.Stderr, Does.Contain("\"write\" lock"));
            Assert.That(File.ReadAllBytes(image), Is.EqualTo(before));
        });
    }

    [TestCase("", "+100M")]
    [TestCase("--shrink", "20M")]
    public void Resize_ImageWithBitmaps_SameBitmapsAsQemuImgResize(string option, string size)
    {
        using var dir = new TempDir("bitmap-resize");
        string ours = dir.File("ours.qcow2");
        string theirs = dir.File("theirs.qcow2");
        foreach (string image in new[] { ours, theirs })
        {
            QemuTools.Create(image, 64 << 20);
            QemuTools.Ok("qemu-img", "bitmap", "--add", "-g", "512", image, "fine");
            QemuTools.Ok("qemu-img", "bitmap", "--add", image, "off");
            QemuTools.QemuIo(image, "write 0 64k", "write 19M 2M", "write 63M 1M");
            QemuTools.Ok("qemu-img", "bitmap", "--disable", image, "off");
        }

        string[] options = option.Length > 0 ? [option] : [];
        QemuTools.Ok("qemu-img", ["resize", .. options, theirs, size]);
        var result = CliHarness.Run(["resize", .. options, ours, size]);
        Assert.Multiple(() =>
        {
            Assert.That(result.Code, Is.Zero, result.Stderr);
            Assert.That(BitmapsJson(ours), Is.EqualTo(BitmapsJson(theirs)));
            Assert.That(QemuTools.Check(ours).IsClean, Is.True, QemuTools.Check(ours).ToString());
            Assert.That(QemuDirtyBitmap.DirtyRanges(ours, "fine"), Is.EqualTo(QemuDirtyBitmap.DirtyRanges(theirs, "fine")));
            Assert.That(QemuDirtyBitmap.DirtyRanges(ours, "off"), Is.EqualTo(QemuDirtyBitmap.DirtyRanges(theirs, "off")));
        });
    }

    [Test]
    public void ResizeAndInfo_InUseBitmap_RefusedAsQemuImgAndListedAsQemuImg()
    {
        using var dir = new TempDir("bitmap-inuse");
        string image = dir.File("x.qcow2");
        QemuTools.Create(image, 64 << 20);
        QemuTools.Ok("qemu-img", "bitmap", "--add", image, "a");
        SetFirstBitmapFlags(image, BitmapDirectoryEntry.FlagInUse | BitmapDirectoryEntry.FlagAuto);
        byte[] before = File.ReadAllBytes(image);
        var qemu = QemuTools.Run("qemu-img", "resize", image, "+1M");
        var ours = CliHarness.Run("resize", image, "+1M");
        var info = CliHarness.Run("info", image);
        var json = CliHarness.Run("info", "--output=json", image);
        Assert.Multiple(() =>
        {
            Assert.That(qemu.Code, Is.EqualTo(1));
            Assert.That(ours.Code, Is.Not.Zero);
            Assert.That(ours.Stderr, Does.Contain("Bitmap 'a' is inconsistent and cannot be used"));
            Assert.That(qemu.Stderr, Does.Contain("Bitmap 'a' is inconsistent and cannot be used"));
            Assert.That(File.ReadAllBytes(image), Is.EqualTo(before));
            Assert.That(info.Stdout, Is.EqualTo(QemuTools.Run("qemu-img", "info", image).Stdout));
            Assert.That(JsonNode.DeepEquals(JsonNode.Parse(json.Stdout), JsonNode.Parse(QemuTools.Run("qemu-img", "info", "--output=json", image).Stdout)), Is.True, json.Stdout);
        });
    }

    [Test]
    public void SnapshotCreateDeleteApply_ImageWithBitmaps_AsQemuImg()
    {
        using var dir = new TempDir("bitmap-snapshot");
        string ours = dir.File("ours.qcow2");
        string theirs = dir.File("theirs.qcow2");
        var codes = new List<(int Ours, int Theirs, string OursErr, string TheirsErr)>();
        foreach (string image in new[] { ours, theirs })
        {
            QemuTools.Create(image, 64 << 20);
            QemuTools.QemuIo(image, "write 0 64k");
            QemuTools.CreateSnapshot(image, "s");
            QemuTools.Ok("qemu-img", "bitmap", "--add", "-g", "4k", image, "b");
            QemuTools.QemuIo(image, "write 1M 8k");
        }

        foreach (string[] step in new[] { new[] { "-c", "t" }, ["-d", "t"], ["-a", "s"] })
        {
            var q = QemuTools.Run("qemu-img", ["snapshot", .. step, theirs]);
            var o = CliHarness.Run(["snapshot", .. step, ours]);
            codes.Add((o.Code, q.Code, o.Stderr, q.Stderr));
        }

        Assert.Multiple(() =>
        {
            Assert.That(codes.Select(c => c.Ours), Is.EqualTo(codes.Select(c => c.Theirs)).And.EqualTo(new[] { 0, 0, 1 }));
            Assert.That(codes[2].OursErr.Replace("qcow2mount: ", "", StringComparison.Ordinal), Is.EqualTo(codes[2].TheirsErr.Replace("qemu-img: ", "", StringComparison.Ordinal)), "Could not apply snapshot 's': Device has active dirty bitmaps");
            Assert.That(BitmapsJson(ours), Is.EqualTo(BitmapsJson(theirs)));
            Assert.That(QemuDirtyBitmap.DirtyRanges(ours, "b"), Is.EqualTo(new[] { (1L << 20, 8192L) }), "the bitmap is kept through -c and -d");
            Assert.That(QemuTools.Check(ours).IsClean, Is.True, QemuTools.Check(ours).ToString());
        });
    }

    private static TestCaseData Case(string name, params string[][] steps) => new TestCaseData((object)steps).SetArgDisplayNames(name);

    private static string Normalize(string stderr, string image) =>
        NodeName().Replace(stderr.Replace("qemu-img: ", "PROGRAM: ", StringComparison.Ordinal).Replace("qcow2mount: ", "PROGRAM: ", StringComparison.Ordinal), "NODE")
            .Replace(image, "NODE", StringComparison.Ordinal);

    private static string BitmapsJson(string image) =>
        JsonNode.Parse(QemuTools.Ok("qemu-img", "info", "--output=json", image))!["format-specific"]!["data"]!["bitmaps"]?.ToJsonString() ?? "none";

    private static void SetFirstBitmapFlags(string image, uint flags)
    {
        using var file = FileBlockDevice.Open(image, readOnly: false);
        var ext = BitmapsExtension.Find(HeaderStore.Read(file)) ?? throw new AssertionException("no bitmaps extension");
        var raw = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(raw, flags);
        file.Write(ext.DirectoryOffset + 12, raw);
        file.Flush();
    }

    [GeneratedRegex("#block[0-9]+")]
    private static partial Regex NodeName();
}
