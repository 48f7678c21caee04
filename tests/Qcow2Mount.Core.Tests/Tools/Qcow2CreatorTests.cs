using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Qcow2.Create;

namespace Qcow2Mount.Core.Tests.Tools;

[TestFixture]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class Qcow2CreatorTests : ToolsTestDirectory
{
    private static readonly TestCaseData[] ValidOptions =
    [
        new TestCaseData(new Qcow2CreateOptions { Size = 1L << 30 }).SetName("Defaults_ExtendedL2_128K"),
        new TestCaseData(new Qcow2CreateOptions { Size = 1L << 30, ExtendedL2 = false }).SetName("StandardL2_64K"),
        new TestCaseData(new Qcow2CreateOptions { Size = 100L << 20, ClusterSize = 512, ExtendedL2 = false, RefcountBits = 1 }).SetName("Cluster512_Refcount1"),
        new TestCaseData(new Qcow2CreateOptions { Size = 100L << 20, ClusterSize = 16384, RefcountBits = 64 }).SetName("Cluster16K_ExtendedL2_Refcount64"),
        new TestCaseData(new Qcow2CreateOptions { Size = 3L << 40, ClusterSize = 2 << 20, RefcountBits = 8 }).SetName("Cluster2M_3TiB"),
        new TestCaseData(new Qcow2CreateOptions { Size = 10L << 20, Version = 2 }).SetName("Compat010"),
        new TestCaseData(new Qcow2CreateOptions { Size = 10L << 20, LazyRefcounts = true, CompressionType = 1 }).SetName("Lazy_Zstd"),
        new TestCaseData(new Qcow2CreateOptions { Size = 20L << 20, Preallocation = Qcow2Preallocation.Metadata }).SetName("PreallocMetadata_ExtendedL2"),
        new TestCaseData(new Qcow2CreateOptions { Size = 20L << 20, ExtendedL2 = false, Preallocation = Qcow2Preallocation.Metadata, RefcountBits = 2 }).SetName("PreallocMetadata_Standard"),
        new TestCaseData(new Qcow2CreateOptions { Size = 1L << 40, ClusterSize = 4096, ExtendedL2 = false }).SetName("Cluster4K_1TiB_LargeL1"),
        new TestCaseData(new Qcow2CreateOptions { Size = 0 }).SetName("SizeZero"),
        new TestCaseData(new Qcow2CreateOptions { Size = 1000 }).SetName("SizeRoundedTo512"),
        new TestCaseData(new Qcow2CreateOptions { Size = 8L << 20, DataFile = "DIR/data.raw", DataFileRaw = true }).SetName("DataFileRaw"),
        new TestCaseData(new Qcow2CreateOptions { Size = 8L << 20, DataFile = "DIR/data.raw", ExtendedL2 = false }).SetName("DataFile"),
    ];

    [TestCaseSource(nameof(ValidOptions))]
    public void Create_ValidOptions_QemuChecksCleanAndReadsBackWrites(Qcow2CreateOptions options)
    {
        string image = PathOf("new.qcow2");
        options = options with { DataFile = options.DataFile?.Replace("DIR/", Dir + "/", StringComparison.Ordinal) };
        Qcow2Creator.Create(image, options);

        var (code, check) = QemuTools.CheckJson(image);
        var info = QemuTools.Json(QemuTools.Ok("qemu-img", "info", "--output=json", image));
        var data = info["format-specific"]!["data"]!;
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(0), check.ToJsonString());
            Assert.That(info["virtual-size"]!.GetValue<long>(), Is.EqualTo(options.AlignedSize));
            Assert.That(info["cluster-size"]!.GetValue<int>(), Is.EqualTo(options.EffectiveClusterSize));
            Assert.That(data["refcount-bits"]!.GetValue<int>(), Is.EqualTo(options.RefcountBits));
            Assert.That(data["compat"]!.GetValue<string>(), Is.EqualTo(options.Version == 2 ? "0.10" : "1.1"));
            Assert.That(data["compression-type"]!.GetValue<string>(), Is.EqualTo(options.CompressionType == 1 ? "zstd" : "zlib"));
            if (options.Version == 3)
            {
                Assert.That(data["extended-l2"]!.GetValue<bool>(), Is.EqualTo(options.EffectiveExtendedL2));
                Assert.That(data["lazy-refcounts"]!.GetValue<bool>(), Is.EqualTo(options.LazyRefcounts));
            }
        });

        if (options.AlignedSize >= 2 << 20)
        {
            long last = options.AlignedSize - (1 << 20);
            QemuTools.QemuIo(image, "write -P 0x5a 0 64k", $"write -P 0xa5 {last} 1M", "read -P 0x5a 0 64k", $"read -P 0xa5 {last} 1M", "read -P 0 64k 64k");
            Assert.That(QemuTools.CheckJson(image).Code, Is.EqualTo(0));
        }
    }

    [TestCase("cluster_size=65536,extended_l2=off", 1L << 30)]
    [TestCase("cluster_size=131072,extended_l2=on", 1L << 30)]
    [TestCase("cluster_size=512,extended_l2=off,refcount_bits=64", 1L << 20)]
    [TestCase("cluster_size=65536,extended_l2=off,compat=0.10", 10L << 20)]
    [TestCase("cluster_size=65536,extended_l2=off,preallocation=metadata", 10L << 20)]
    [TestCase("cluster_size=65536,extended_l2=on,lazy_refcounts=on,compression_type=zstd", 64L << 40)]
    public void Create_SameOptionsAsQemuImg_SameLayoutAndHeader(string qemuOptions, long size)
    {
        string ours = PathOf("ours.qcow2"), theirs = PathOf("theirs.qcow2");
        QemuTools.Create(theirs, qemuOptions, size);
        var o = qemuOptions.Split(',').Select(kv => kv.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]);
        Qcow2Creator.Create(ours, new Qcow2CreateOptions
        {
            Size = size,
            ClusterSize = int.Parse(o["cluster_size"], System.Globalization.CultureInfo.InvariantCulture),
            ExtendedL2 = o["extended_l2"] == "on",
            RefcountBits = o.TryGetValue("refcount_bits", out var rb) ? int.Parse(rb, System.Globalization.CultureInfo.InvariantCulture) : 16,
            Version = o.TryGetValue("compat", out var c) && c == "0.10" ? 2 : 3,
            LazyRefcounts = o.ContainsKey("lazy_refcounts"),
            CompressionType = (byte)(o.ContainsKey("compression_type") ? 1 : 0),
            Preallocation = o.ContainsKey("preallocation") ? Qcow2Preallocation.Metadata : Qcow2Preallocation.Off,
        });

        var a = HeaderOf(ours);
        var b = HeaderOf(theirs);
        Assert.Multiple(() =>
        {
            Assert.That(a.L1TableOffset, Is.EqualTo(b.L1TableOffset));
            Assert.That(a.L1Size, Is.EqualTo(b.L1Size));
            Assert.That(a.RefcountTableOffset, Is.EqualTo(b.RefcountTableOffset));
            Assert.That(a.RefcountTableClusters, Is.EqualTo(b.RefcountTableClusters));
            Assert.That(a.IncompatibleFeatures, Is.EqualTo(b.IncompatibleFeatures));
            Assert.That(a.CompatibleFeatures, Is.EqualTo(b.CompatibleFeatures));
            Assert.That(a.HeaderLength, Is.EqualTo(b.HeaderLength));
            Assert.That(a.Extensions.Select(e => (e.Type, Convert.ToHexString(e.Data))), Is.EqualTo(b.Extensions.Select(e => (e.Type, Convert.ToHexString(e.Data)))));
            Assert.That(new FileInfo(ours).Length, Is.EqualTo(new FileInfo(theirs).Length));
            Assert.That(QemuTools.Compare(ours, theirs, "qcow2", "qcow2"), Is.True);
        });
    }

    [Test]
    public void Create_WithBacking_NamesBackingAndFormat_ReadsThroughQemu()
    {
        string baseImage = PathOf("base.qcow2"), top = PathOf("top.qcow2");
        QemuTools.Create(baseImage, "cluster_size=65536", 4 << 20);
        QemuTools.QemuIo(baseImage, "write -P 0x11 0 4M");
        Qcow2Creator.Create(top, new Qcow2CreateOptions { Size = 4 << 20, BackingFile = "base.qcow2", BackingFormat = "qcow2" });

        var info = QemuTools.Json(QemuTools.Ok("qemu-img", "info", "--output=json", top));
        QemuTools.QemuIo(top, "read -P 0x11 0 4M", "write -P 0x22 100k 5k", "read -P 0x11 0 100k", "read -P 0x22 100k 5k", "read -P 0x11 105k 1M");
        Assert.Multiple(() =>
        {
            Assert.That(info["backing-filename"]!.GetValue<string>(), Is.EqualTo("base.qcow2"));
            Assert.That(info["backing-filename-format"]!.GetValue<string>(), Is.EqualTo("qcow2"));
            Assert.That(QemuTools.CheckJson(top).Code, Is.EqualTo(0));
        });
    }

    private static readonly TestCaseData[] InvalidOptions =
    [
        new TestCaseData(new Qcow2CreateOptions { Size = 1, ClusterSize = 3000 }, "Cluster size must be a power of two between 512 and 2048k"),
        new TestCaseData(new Qcow2CreateOptions { Size = 1, ClusterSize = 4 << 20 }, "Cluster size must be a power of two between 512 and 2048k"),
        new TestCaseData(new Qcow2CreateOptions { Size = 1, RefcountBits = 3 }, "Refcount width must be a power of two and may not exceed 64 bits"),
        new TestCaseData(new Qcow2CreateOptions { Size = 1, RefcountBits = 128 }, "Refcount width must be a power of two and may not exceed 64 bits"),
        new TestCaseData(new Qcow2CreateOptions { Size = 1, ClusterSize = 8192, ExtendedL2 = true }, "Extended L2 entries are only supported with cluster sizes of at least 16384 bytes"),
        new TestCaseData(new Qcow2CreateOptions { Size = 1, Version = 2, LazyRefcounts = true }, "Lazy refcounts are only supported with compatibility level 1.1 and above (use version=v3 or greater)"),
        new TestCaseData(new Qcow2CreateOptions { Size = 1, Version = 2, ExtendedL2 = true }, "Extended L2 entries are only supported with compatibility level 1.1 and above (use version=v3 or greater)"),
        new TestCaseData(new Qcow2CreateOptions { Size = 1, Version = 2, CompressionType = 1 }, "Non-zlib compression type is only supported with compatibility level 1.1 and above (use version=v3 or greater)"),
        new TestCaseData(new Qcow2CreateOptions { Size = 1, Version = 2, DataFile = "x" }, "External data files are only supported with compatibility level 1.1 and above (use version=v3 or greater)"),
        new TestCaseData(new Qcow2CreateOptions { Size = 1, Version = 2, RefcountBits = 8 }, "Different refcount widths than 16 bits require compatibility level 1.1 or above (use version=v3 or greater)"),
        new TestCaseData(new Qcow2CreateOptions { Size = 1, DataFileRaw = true }, "data-file-raw requires data-file"),
        new TestCaseData(new Qcow2CreateOptions { Size = 1, DataFile = "d", DataFileRaw = true, BackingFile = "b", BackingFormat = "raw" }, "Backing file and data-file-raw cannot be used at the same time"),
        new TestCaseData(new Qcow2CreateOptions { Size = 1, BackingFormat = "raw" }, "Backing format cannot be used without backing file"),
        new TestCaseData(new Qcow2CreateOptions { Size = 1, ExtendedL2 = false, BackingFile = "b", Preallocation = Qcow2Preallocation.Metadata }, "Backing file and preallocation can only be used at the same time if extended_l2 is on"),
        new TestCaseData(new Qcow2CreateOptions { Size = 1025L << 40, ClusterSize = 65536 }, "The image size is too large for file format 'qcow2' (try using a larger cluster size)"),
    ];

    [TestCaseSource(nameof(InvalidOptions))]
    public void Validate_InvalidOptions_ThrowsQemuImgMessage(Qcow2CreateOptions options, string message)
    {
        Assert.That(options.Validate, Throws.ArgumentException.With.Message.EqualTo(message));
    }

    [TestCase(null, null, true, 131072)]
    [TestCase(false, null, false, 65536)]
    [TestCase(null, 8192, false, 8192)]
    [TestCase(null, 16384, true, 16384)]
    public void Defaults_DependOnExtendedL2AndClusterSize(bool? extendedL2, int? clusterSize, bool expectedExtended, int expectedCluster)
    {
        var o = new Qcow2CreateOptions { Size = 1, ExtendedL2 = extendedL2, ClusterSize = clusterSize };
        Assert.Multiple(() =>
        {
            Assert.That(o.EffectiveExtendedL2, Is.EqualTo(expectedExtended));
            Assert.That(o.EffectiveClusterSize, Is.EqualTo(expectedCluster));
        });
    }

    /// <summary>
    /// Regression: create truncated an image that a running qemu-io (or a read-write mount) held. QEMU's writer lock
    /// is now taken before the file is truncated, so an image in use (by a writer or a reader) is refused intact.
    /// </summary>
    [TestCase(false)]
    [TestCase(true)]
    public void Create_OverImageHeldByQemuIo_LockErrorImageUnchanged(bool holderReadOnly)
    {
        string image = PathOf("busy.qcow2");
        QemuTools.Create(image, "cluster_size=65536", 1 << 20);
        QemuTools.QemuIo(image, "write -P 0x5a 0 64k");
        string before = TestSupport.Checksum.Sha256OfFile(image);

        using (new TestSupport.QemuIoHolder(image, "qcow2", holderReadOnly))
        {
            var e = Assert.Throws<Errors.ImageLockedException>(() => Qcow2Creator.Create(image, new Qcow2CreateOptions { Size = 1 << 20 }));
            Assert.That(e!.Message, Does.StartWith($"{image}: image is in use by another process"));
        }

        Assert.That(TestSupport.Checksum.Sha256OfFile(image), Is.EqualTo(before));
        Assert.That(QemuTools.CheckJson(image).Code, Is.EqualTo(0));
    }

    [Test]
    public void Create_DataFileHeldByQemuIo_RefusedBeforeTheImageIsTruncated()
    {
        string image = PathOf("old.qcow2"), data = PathOf("busy.raw");
        QemuTools.Create(image, "cluster_size=65536", 1 << 20);
        File.WriteAllBytes(data, new byte[1 << 20]);
        string imageBefore = TestSupport.Checksum.Sha256OfFile(image);

        using (new TestSupport.QemuIoHolder(data, "raw"))
        {
            Assert.Throws<Errors.ImageLockedException>(() => Qcow2Creator.Create(image, new Qcow2CreateOptions { Size = 1 << 20, DataFile = data }));
        }

        Assert.That(TestSupport.Checksum.Sha256OfFile(image), Is.EqualTo(imageBefore));
    }

    [Test]
    public void Create_NewImageWhoseDataFileIsHeld_NewImageRemovedAgain()
    {
        string image = PathOf("new.qcow2"), data = PathOf("busy.raw");
        File.WriteAllBytes(data, new byte[1 << 20]);

        using (new TestSupport.QemuIoHolder(data, "raw"))
        {
            Assert.Throws<Errors.ImageLockedException>(() => Qcow2Creator.Create(image, new Qcow2CreateOptions { Size = 1 << 20, DataFile = data }));
        }

        Assert.That(File.Exists(image), Is.False);
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Create_DataFileIsTheImageItself_Refused(bool viaHardLink)
    {
        string image = PathOf("self.qcow2");
        File.WriteAllBytes(image, [9, 9, 9]);
        string data = image;
        if (viaHardLink)
        {
            data = PathOf("self.data");
            QemuTools.Ok("ln", image, data);
        }

        var e = Assert.Throws<Errors.SameFileException>(() => Qcow2Creator.Create(image, new Qcow2CreateOptions { Size = 1 << 20, DataFile = data }));

        Assert.Multiple(() =>
        {
            Assert.That(e!.Message, Does.StartWith($"{data}: the external data file is the image being created"));
            Assert.That(File.ReadAllBytes(image), Is.EqualTo(new byte[] { 9, 9, 9 }));
        });
    }

    private static Core.Qcow2.Format.Qcow2Header HeaderOf(string path)
    {
        using var f = Storage.FileBlockDevice.Open(path, readOnly: true);
        return Core.Qcow2.Metadata.HeaderStore.Read(f);
    }
}
