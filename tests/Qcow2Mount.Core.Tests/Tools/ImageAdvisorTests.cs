using System.Globalization;
using Qcow2Mount.Core.Tools.Advise;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Tools;

/// <summary>
/// ImageAdvisor on images of known shapes made by qemu-img, qemu-io and mkfs.ext4: each gets the advice its shape
/// calls for, with the numbers that decided it.
/// </summary>
[TestFixture]
[Category(TestCategories.Mount)]
public sealed class ImageAdvisorTests : ToolsTestDirectory
{
    [Test]
    public void Advise_OverlayWithRandom4KWritesOverPopulatedBase_ConvertsToExtendedL2With128K()
    {
        QemuTools.Create(PathOf("base.qcow2"), "cluster_size=65536", 64L << 20);
        QemuTools.QemuIo(PathOf("base.qcow2"), "write -P 17 0 64M");
        string top = PathOf("top.qcow2");
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=65536", "-b", "base.qcow2", "-F", "qcow2", top);
        var random = new Random(1234);
        QemuTools.QemuIo(top, Enumerable.Range(0, 200).Select(_ => $"write -P 34 {random.Next(0, 16384) * 4096L} 4k").ToArray());

        var advice = ImageAdvisor.Advise(top);
        Assert.Multiple(() =>
        {
            Assert.That(advice.Profile.BackingFile, Is.EqualTo("base.qcow2"));
            Assert.That(advice.Profile.SampledClusters, Is.EqualTo(advice.Profile.DataClusters), "fewer than 1024 data clusters: all sampled");
            Assert.That(advice.Profile.PartialClusters, Is.EqualTo(advice.Profile.DataClusters), "every cluster got 4 KiB writes only");
            Assert.That(advice.Profile.WriteUnit, Is.EqualTo(4096).Or.EqualTo(8192), "4 KiB writes (two may touch)");
            Assert.That(advice.GainsFromExtendedL2, Is.True);
            Assert.That(advice.Convert, Is.True);
            Assert.That((advice.ClusterSize, advice.ExtendedL2), Is.EqualTo((131072, true)));
            Assert.That(advice.Reasons, Has.Some.StartsWith("it has a backing file (base.qcow2)"));
            Assert.That(advice.Reasons, Has.Some.StartsWith("it is written in small pieces"));
            Assert.That(advice.Command, Is.EqualTo($"qcow2mount convert -O qcow2 -o cluster_size=128k,extended_l2=on {top} {PathOf("top.converted.qcow2")}"));
            Assert.That(advice.OverlayCommand, Is.EqualTo($"qcow2mount create -f qcow2 -b base.qcow2 -F qcow2 -o cluster_size=128k,extended_l2=on {PathOf("top.new-overlay.qcow2")}"));
        });
    }

    [Test]
    public void Advise_CompressedImage_KeepsItBecauseExtendedL2GainsNothing()
    {
        QemuTools.Create(PathOf("src.qcow2"), "cluster_size=65536", 16L << 20);
        QemuTools.QemuIo(PathOf("src.qcow2"), "write -P 1 0 8M");
        QemuTools.Ok("qemu-img", "convert", "-c", "-O", "qcow2", PathOf("src.qcow2"), PathOf("c.qcow2"));

        var advice = ImageAdvisor.Advise(PathOf("c.qcow2"));
        Assert.Multiple(() =>
        {
            Assert.That(advice.Profile.CompressedClusters, Is.EqualTo(128));
            Assert.That(advice.GainsFromExtendedL2, Is.False);
            Assert.That(advice.Convert, Is.False);
            Assert.That(advice.Command, Is.Null);
            Assert.That(advice.Reasons, Has.Exactly(1).StartsWith("compressed: 128 of its 128 clusters with data are compressed"));
        });
    }

    [TestCase("write")]
    [TestCase("preallocation=metadata")]
    [TestCase("preallocation=full")]
    public void Advise_FullyAllocatedImage_KeepsIt(string how)
    {
        string image = PathOf("full.qcow2");
        QemuTools.Create(image, how == "write" ? "cluster_size=65536" : how, 32L << 20);
        if (how == "write")
        {
            QemuTools.QemuIo(image, "write -P 5 0 32M");
        }

        var advice = ImageAdvisor.Advise(image);
        Assert.Multiple(() =>
        {
            Assert.That(advice.Profile.HostedClusters, Is.EqualTo(512));
            Assert.That(advice.Profile.MetadataPreallocated, Is.EqualTo(how == "preallocation=metadata"));
            Assert.That(advice.Profile.ReservedClusters, Is.EqualTo(how == "preallocation=metadata" ? 512 : 0), "holes of a metadata-preallocated image hold no data");
            Assert.That(advice.GainsFromExtendedL2, Is.False);
            Assert.That(advice.Convert, Is.False);
            Assert.That(advice.Reasons, Has.Exactly(1).StartsWith("fully allocated: 512 of its 512 clusters (100%)"));
        });
    }

    [Test]
    public void Advise_FreshImageWithExt4Of4KBlocks_ConvertsToExtendedL2With128K()
    {
        string raw = SparseFile("disk.raw", 256L << 20);

        WithLoopDevice(raw, 0, loop => ProcessRunner.Output("mkfs.ext4", "-q", "-F", "-b", "4096", loop));
        QemuTools.Ok("qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=65536", raw, PathOf("disk.qcow2"));

        var advice = ImageAdvisor.Advise(PathOf("disk.qcow2"));
        Assert.Multiple(() =>
        {
            Assert.That(advice.FileSystem, Is.EqualTo(new GuestFileSystem("ext4", 4096, 0, "whole disk")));
            Assert.That(advice.GuestBlockSize, Is.EqualTo(4096));
            Assert.That(advice.Convert, Is.True);
            Assert.That((advice.ClusterSize, advice.ExtendedL2), Is.EqualTo((131072, true)));
            Assert.That(advice.Reasons, Has.Some.Contains("of the disk is unallocated and the guest writes 4 KiB blocks"));
            Assert.That(advice.Reasons, Has.Some.StartsWith("128 KiB clusters = 32 subclusters of 4 KiB, one per guest block (ext4 with 4 KiB blocks, whole disk)"));
        });
    }

    [Test]
    public void Advise_Ext4Of1KBlocksInFirstMbrPartition_Recommends32KClusters()
    {
        string raw = SparseFile("disk.raw", 128L << 20);

        // One primary Linux partition from sector 2048 (1 MiB) for 64 MiB.
        var mbr = new byte[512];
        mbr[446 + 4] = 0x83;
        BitConverter.TryWriteBytes(mbr.AsSpan(446 + 8), 2048u);
        BitConverter.TryWriteBytes(mbr.AsSpan(446 + 12), 131072u);
        mbr[510] = 0x55;
        mbr[511] = 0xAA;
        ImageBytes.Patch(raw, 0, mbr);
        WithLoopDevice(raw, 1 << 20, loop => ProcessRunner.Output("mkfs.ext4", "-q", "-F", "-b", "1024", loop), 64L << 20);
        QemuTools.Ok("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, PathOf("disk.qcow2"));

        var advice = ImageAdvisor.Advise(PathOf("disk.qcow2"));
        Assert.Multiple(() =>
        {
            Assert.That(advice.FileSystem, Is.EqualTo(new GuestFileSystem("ext4", 1024, 1 << 20, "MBR partition 1")));
            Assert.That(advice.Convert, Is.True);
            Assert.That(advice.ClusterSize, Is.EqualTo(32768), "32 subclusters of the 1 KiB block");
        });
    }

    [Test]
    public void Advise_ExtendedL2With4KSubclusters_KeepsIt()
    {
        string image = PathOf("good.qcow2");
        QemuTools.Create(image, "extended_l2=on,cluster_size=131072", 64L << 20);
        QemuTools.QemuIo(image, "write -P 1 0 4k", "write -P 1 1M 4k", "write -P 1 5M 12k");

        var advice = ImageAdvisor.Advise(image);
        Assert.Multiple(() =>
        {
            Assert.That(advice.Profile.PartialClusters, Is.EqualTo(3), "exact from the subcluster bitmaps");
            Assert.That(advice.Profile.SampledClusters, Is.Zero);
            Assert.That(advice.Profile.DataBytes, Is.EqualTo(20480));
            Assert.That(advice.Convert, Is.False);
            Assert.That(advice.Reasons, Has.Exactly(1).StartsWith("it already has extended L2 entries with 4 KiB subclusters"));
        });
    }

    [Test]
    public void Advise_TwoWritesInOneExtendedCluster_CountsTheClusterOnce()
    {
        string image = PathOf("two.qcow2");
        QemuTools.Create(image, "extended_l2=on,cluster_size=131072", 8L << 20);
        QemuTools.QemuIo(image, "write -P 1 0 4k", "write -P 1 20k 4k", "write -z 40k 4k", "write -P 1 1M 128k");

        var p = ImageAdvisor.Advise(image).Profile;
        Assert.Multiple(() =>
        {
            Assert.That(p.DataClusters, Is.EqualTo(2));
            Assert.That(p.PartialClusters, Is.EqualTo(1));
            Assert.That(p.DataBytes, Is.EqualTo((8L << 10) + (128L << 10)));
            Assert.That(p.Runs, Is.EqualTo(3));
            Assert.That(p.MedianRun, Is.EqualTo(4096));
            Assert.That(p.WriteUnit, Is.EqualTo(4096));
        });
    }

    [Test]
    public void Advise_LargeSequentialWritesWithoutBacking_KeepsIt()
    {
        string image = PathOf("seq.qcow2");
        QemuTools.Create(image, "cluster_size=65536", 64L << 20);
        QemuTools.QemuIo(image, "write -P 3 0 40M");

        var advice = ImageAdvisor.Advise(image);
        Assert.Multiple(() =>
        {
            Assert.That(advice.Profile.Runs, Is.EqualTo(1));
            Assert.That(advice.Profile.MedianRun, Is.EqualTo(40L << 20));
            Assert.That(advice.Profile.PartialClusters, Is.Zero);
            Assert.That(advice.GainsFromExtendedL2, Is.False);
            Assert.That(advice.Convert, Is.False);
            Assert.That(advice.Reasons, Has.Exactly(1).Contains("extended L2 would change little"));
        });
    }

    [Test]
    public void Advise_Candidates_AreWhatQemuImgMeasureSays()
    {
        string image = PathOf("img.qcow2");
        QemuTools.Create(image, "cluster_size=65536", 64L << 20);
        QemuTools.QemuIo(image, "write -P 1 0 4k", "write -P 1 10M 100k");

        var advice = ImageAdvisor.Advise(image);
        Assert.That(advice.Candidates, Has.Count.EqualTo(2), "64 KiB standard (current) and 128 KiB extended");
        Assert.Multiple(() =>
        {
            foreach (var c in advice.Candidates)
            {
                string options = $"cluster_size={c.ClusterSize},extended_l2={(c.ExtendedL2 ? "on" : "off")}";
                var json = QemuTools.Json(QemuTools.Ok("qemu-img", "measure", "--output=json", "-O", "qcow2", "-o", options, image));
                Assert.That(c.Required, Is.EqualTo(json["required"]!.GetValue<long>()), options);
                Assert.That(c.FullyAllocated, Is.EqualTo(json["fully-allocated"]!.GetValue<long>()), options);
                Assert.That(c.L2CacheForDisk, Is.EqualTo((64L << 20) / c.ClusterSize * (c.ExtendedL2 ? 16 : 8)), options);
            }
        });
    }

    [Test]
    public void Advise_RawImage_IsRefused()
    {
        File.WriteAllBytes(PathOf("disk.raw"), new byte[65536]);
        Assert.That(() => ImageAdvisor.Advise(PathOf("disk.raw")), Throws.ArgumentException.With.Message.Contains("is not a qcow2 image"));
    }

    private string SparseFile(string name, long length)
    {
        string path = PathOf(name);
        using var f = File.Create(path);
        f.SetLength(length);
        return path;
    }

    private static void WithLoopDevice(string file, long offset, Action<string> use, long sizeLimit = 0)
    {
        var args = new List<string> { "-f", "--show", "-o", offset.ToString(CultureInfo.InvariantCulture) };
        if (sizeLimit > 0)
        {
            args.AddRange(["--sizelimit", sizeLimit.ToString(CultureInfo.InvariantCulture)]);
        }

        args.Add(file);
        string loop = ProcessRunner.Output("losetup", args.ToArray()).Trim();
        try
        {
            use(loop);
        }
        finally
        {
            ProcessRunner.Capture("losetup", ["-d", loop]);
        }
    }

}
