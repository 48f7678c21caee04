using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Create;
using Qcow2Mount.Core.Tools;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Tools;

[TestFixture]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class ImageConverterTests : ToolsTestDirectory
{
    private static readonly TestCaseData[] Targets =
    [
        new TestCaseData("raw", false, new Qcow2CreateOptions()).SetName("ToRaw"),
        new TestCaseData("qcow2", false, new Qcow2CreateOptions()).SetName("ToQcow2Defaults"),
        new TestCaseData("qcow2", false, new Qcow2CreateOptions { ExtendedL2 = false, ClusterSize = 4096, RefcountBits = 1 }).SetName("ToQcow2Small"),
        new TestCaseData("qcow2", true, new Qcow2CreateOptions()).SetName("ToQcow2CompressedDeflate"),
        new TestCaseData("qcow2", true, new Qcow2CreateOptions { CompressionType = 1, ExtendedL2 = false, ClusterSize = 65536 }).SetName("ToQcow2CompressedZstd"),
        new TestCaseData("qcow2", true, new Qcow2CreateOptions { ClusterSize = 512, ExtendedL2 = false, RefcountBits = 2 }).SetName("ToQcow2Compressed512Refcount2"),
        new TestCaseData("qcow2", false, new Qcow2CreateOptions { Version = 2, Preallocation = Qcow2Preallocation.Metadata }).SetName("ToQcow2V2Preallocated"),
    ];

    [TestCaseSource(nameof(Targets))]
    public void Convert_QcowChain_FlattenedIdenticalAndClean(string format, bool compress, Qcow2CreateOptions qcow2)
    {
        string baseImage = PathOf("base.qcow2"), top = PathOf("top.qcow2"), target = PathOf("out." + format);
        QemuTools.Create(baseImage, "cluster_size=65536", 6 << 20);
        QemuTools.QemuIo(baseImage, "write -P 1 0 2M", "write -c -P 2 4M 64k");
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "extended_l2=on", "-b", "base.qcow2", "-F", "qcow2", top, "8M");
        QemuTools.QemuIo(top, "write -P 3 1000k 5k", "write -z 64k 64k", "write -P 4 7M 100k");

        ImageConverter.Convert(top, target, new ConvertOptions { TargetFormat = format, Compress = compress, Qcow2 = qcow2 });

        Assert.That(QemuTools.Compare(top, target, "qcow2", format), Is.True);
        if (format == "qcow2")
        {
            var (code, check) = QemuTools.CheckJson(target);
            Assert.Multiple(() =>
            {
                Assert.That(code, Is.EqualTo(0), check.ToJsonString());
                Assert.That(QemuTools.Long(check, "compressed-clusters") > 0, Is.EqualTo(compress));
                Assert.That(QemuTools.Json(QemuTools.Ok("qemu-img", "info", "--output=json", target))["backing-filename"], Is.Null);
            });
        }
    }

    /// <summary>
    /// qemu-img's default cache mode for a conversion (unsafe) syncs nothing, and neither may the closing of the
    /// target: it once waited there for ext4 to write a 4 GiB raw target out (it flushes a file truncated to zero at
    /// its close), 1.5 s of a 2.6 s conversion. The target's pages are still dirty when the conversion returns.
    /// </summary>
    [TestCase(false, TestName = "Convert_ToNewRawTarget_LeavesItsPagesToTheKernel")]
    [TestCase(true, TestName = "Convert_OverRawTargetWithData_LeavesItsPagesToTheKernel")]
    public void Convert_ToRawTarget_LeavesItsPagesToTheKernel(bool existing)
    {
        const int size = 32 << 20;
        using var disk = new TempDir("convert-dirty", root: "/var/tmp"); // a disk file system: tmpfs has no writeback
        string source = disk.File("in.qcow2"), target = disk.File("out.raw");
        QemuTools.Create(source, "cluster_size=65536", size);
        QemuTools.QemuIo(source, "write -P 7 0 32M");
        if (existing)
        {
            File.WriteAllBytes(target, new byte[1 << 20].Select((_, i) => (byte)i).ToArray());
            QemuTools.Ok("sync", target); // its old pages are clean: what is dirty afterwards is the conversion's
        }

        ImageConverter.Convert(source, target, new ConvertOptions { TargetFormat = "raw" });

        Assert.Multiple(() =>
        {
            Assert.That(PageCache.DirtyPages(target), Is.GreaterThan(size / 4096 / 2), "dirty pages of the 32 MiB converted, after the conversion");
            Assert.That(QemuTools.Compare(source, target, "qcow2", "raw"), Is.True);
        });
    }

    [Test]
    public void Convert_RawWithRepeatingData_CompressedReadableByQemu_AndSparse()
    {
        // A pattern repeating every 8000 bytes compresses with distances beyond QEMU's 4 KiB window.
        string raw = PathOf("in.raw"), target = PathOf("out.qcow2");
        var rng = new Random(7);
        var pattern = new byte[8000];
        rng.NextBytes(pattern);
        var data = new byte[6 << 20];
        for (int i = 0; i < (1 << 20); i++)
        {
            data[i] = pattern[i % 8000];
        }

        rng.NextBytes(data.AsSpan(3 << 20, 100_000));
        File.WriteAllBytes(raw, data);

        ImageConverter.Convert(raw, target, new ConvertOptions { TargetFormat = "qcow2", Compress = true });

        Assert.Multiple(() =>
        {
            Assert.That(QemuTools.Compare(raw, target, "raw", "qcow2"), Is.True);
            Assert.That(QemuTools.CheckJson(target).Code, Is.EqualTo(0));
            Assert.That(new FileInfo(target).Length, Is.LessThan(1 << 20));
        });
    }

    /// <summary>Many 2 MiB chunks read ahead by several workers: data, holes and zeros across chunk edges land exactly.</summary>
    [TestCase("raw", false)]
    [TestCase("qcow2", false)]
    [TestCase("qcow2", true)]
    public void Convert_ManyChunks_DataAndHolesAcrossChunkEdges_Identical(string format, bool compress)
    {
        string source = PathOf("src.qcow2"), target = PathOf("out." + format);
        QemuTools.Create(source, "cluster_size=65536", 41 << 20);
        var commands = new List<string>();
        for (int mib = 1; mib < 41; mib += 3)
        {
            commands.Add($"write -P {mib} {(mib << 20) - 4096} 12k"); // across a MiB edge, every other one a chunk edge
        }

        commands.Add("write -z 20M 4M");
        commands.Add("write -P 99 40M 1M");
        QemuTools.QemuIo(source, [.. commands]);

        ImageConverter.Convert(source, target, new ConvertOptions { TargetFormat = format, Compress = compress });

        Assert.That(QemuTools.Compare(source, target, "qcow2", format), Is.True);
        if (format == "qcow2")
        {
            Assert.That(QemuTools.CheckJson(target).Code, Is.EqualTo(0));
        }
        else
        {
            Assert.That(new FileInfo(target).Length, Is.EqualTo(41L << 20));
        }
    }

    /// <summary>
    /// Issue 18: compressed clusters are packed back to back across the whole conversion, as qemu-img convert -c packs
    /// them, not from a fresh host cluster for every run of data between zeros (which left half a cluster empty per run).
    /// </summary>
    [Test]
    public void Convert_CompressedRunsBetweenZeros_PackedLikeQemu()
    {
        const int cluster = 65536, runs = 16;
        string raw = PathOf("runs.raw"), ours = PathOf("ours.qcow2"), qemu = PathOf("qemu.qcow2");
        var rng = new Random(18);
        var data = new byte[2 * runs * cluster];
        for (int r = 0; r < runs; r++)
        {
            var run = data.AsSpan(2 * r * cluster, cluster); // one cluster of data, then one of zeros
            for (int i = 0; i < run.Length; i++)
            {
                run[i] = (byte)rng.Next(1, 17); // 4 bits of entropy a byte: about half a cluster compressed
            }
        }

        File.WriteAllBytes(raw, data);
        ImageConverter.Convert(raw, ours, new ConvertOptions
        {
            TargetFormat = "qcow2",
            Compress = true,
            Qcow2 = new Qcow2CreateOptions { ClusterSize = cluster, ExtendedL2 = false }, // qemu-img's default layout
        });
        QemuTools.Ok("qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", raw, qemu);

        var (code, check) = QemuTools.CheckJson(ours);
        var oursClusters = CompressedHostClusters(ours);
        var qemuClusters = CompressedHostClusters(qemu);
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(0), check.ToJsonString());
            Assert.That(QemuTools.Long(check, "compressed-clusters"), Is.EqualTo(runs));
            Assert.That(oursClusters, Is.LessThanOrEqualTo(qemuClusters + 1), $"host clusters holding compressed data: ours {oursClusters}, qemu-img {qemuClusters}");
            Assert.That(QemuTools.Compare(raw, ours, "raw", "qcow2"), Is.True);
        });
    }

    /// <summary>
    /// Issue 18: convert follows the allocated data, not the virtual size: a sparse 64 TiB image with 2 MiB of data at
    /// each end converts at once (it walked 33 million empty chunks through the pipeline: over ten minutes here).
    /// </summary>
    [Test]
    [CancelAfter(120_000)]
    public void Convert_Sparse64TiB_FinishesAndKeepsTheData()
    {
        const long size = 64L << 40;
        string source = PathOf("huge.qcow2"), target = PathOf("huge-out.qcow2");
        QemuTools.Create(source, "cluster_size=65536", size);
        QemuTools.QemuIo(source, "write -P 7 0 2M", $"write -P 9 {size - (2 << 20)} 2M");

        ImageConverter.Convert(source, target, new ConvertOptions { TargetFormat = "qcow2" });

        Assert.Multiple(() =>
        {
            Assert.That(QemuTools.Compare(source, target, "qcow2", "qcow2"), Is.True);
            Assert.That(QemuTools.CheckJson(target).Code, Is.EqualTo(0));
        });
    }

    /// <summary>A source that fails halfway (a data cluster beyond the end of the file): the error comes out, no hang.</summary>
    [Test]
    [CancelAfter(60_000)]
    public void Convert_SourceFailsHalfway_ErrorPropagates()
    {
        string source = PathOf("src.qcow2");
        QemuTools.Create(source, "cluster_size=65536", 16 << 20);
        QemuTools.QemuIo(source, "write -P 1 0 16M");
        using (var f = new FileStream(source, FileMode.Open))
        {
            f.SetLength(f.Length - (4 << 20)); // the last data clusters are gone
        }

        Assert.That(() => ImageConverter.Convert(source, PathOf("out.raw"), new ConvertOptions()),
            Throws.InstanceOf<Qcow2Mount.Core.Errors.Qcow2Exception>().Or.InstanceOf<IOException>());
    }

    [Test]
    public void Convert_CompressToRaw_Refused()
    {
        string raw = PathOf("in.raw");
        File.WriteAllBytes(raw, new byte[4096]);
        Assert.That(() => ImageConverter.Convert(raw, PathOf("out.raw"), new ConvertOptions { Compress = true }),
            Throws.ArgumentException.With.Message.EqualTo("Compression not supported for this file format"));
    }

    /// <summary>
    /// top.qcow2 over base.raw (data at 0..64k) with an external-data-file sibling; returns the paths. Every file of
    /// the chain is something a conversion of top must never overwrite.
    /// </summary>
    private (string Top, string Base, string DataImage, string Data) Chain()
    {
        string baseQcow = PathOf("base.qcow2"), baseRaw = PathOf("base.raw"), top = PathOf("top.qcow2");
        QemuTools.Create(baseQcow, "cluster_size=65536", 1 << 20);
        QemuTools.QemuIo(baseQcow, "write -P 0xaa 0 64k");
        QemuTools.Ok("qemu-img", "convert", "-O", "raw", baseQcow, baseRaw);
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", top);
        QemuTools.QemuIo(top, "write -P 0xbb 64k 64k");
        string dataImage = PathOf("external.qcow2"), data = PathOf("external.data");
        QemuTools.Create(dataImage, $"data_file={data}", 1 << 20);
        QemuTools.QemuIo(dataImage, "write -P 0xcc 0 64k");
        return (top, baseRaw, dataImage, data);
    }

    private static readonly TestCaseData[] ProtectedTargets =
    [
        new TestCaseData("raw", "base").SetName("ToRaw_BackingFile"),
        new TestCaseData("qcow2", "base").SetName("ToQcow2_BackingFile"),
        new TestCaseData("raw", "symlink").SetName("ToRaw_SymlinkToBackingFile"),
        new TestCaseData("qcow2", "hardlink").SetName("ToQcow2_HardLinkToBackingFile"),
        new TestCaseData("raw", "respelled").SetName("ToRaw_BackingFileOtherSpelling"),
        new TestCaseData("raw", "source").SetName("ToRaw_SourceItself"),
        new TestCaseData("qcow2", "sourcelink").SetName("ToQcow2_HardLinkToSource"),
    ];

    /// <summary>
    /// Regression: <c>convert -O raw top.qcow2 base.raw</c>, base.raw being top's backing file, used to succeed and
    /// leave the base zeroed. The target is now recognised by inode (any path, link or spelling) and refused before a
    /// byte of it changes.
    /// </summary>
    [TestCaseSource(nameof(ProtectedTargets))]
    public void Convert_TargetIsAFileOfTheSourceChain_RefusedEverythingUnchanged(string format, string how)
    {
        var (top, baseRaw, _, _) = Chain();
        string target = how switch
        {
            "base" => baseRaw,
            "symlink" => File.CreateSymbolicLink(PathOf("link.raw"), baseRaw).FullName,
            "hardlink" => HardLink(baseRaw, PathOf("hard.raw")),
            "respelled" => Path.Combine(Dir, ".", "sub", "..", "base.raw"),
            "source" => top,
            _ => HardLink(top, PathOf("top-link.qcow2")),
        };
        Directory.CreateDirectory(PathOf("sub"));
        string baseBefore = Checksum.Sha256OfFile(baseRaw), topBefore = Checksum.Sha256OfFile(top);

        var e = Assert.Throws<SameFileException>(() => ImageConverter.Convert(top, target, new ConvertOptions { TargetFormat = format }));

        Assert.Multiple(() =>
        {
            Assert.That(e!.Message, Does.StartWith($"{target}: the conversion target is {(how.StartsWith("source", StringComparison.Ordinal) ? "the source image" : "a backing file of the source")}"));
            Assert.That(Checksum.Sha256OfFile(baseRaw), Is.EqualTo(baseBefore));
            Assert.That(Checksum.Sha256OfFile(top), Is.EqualTo(topBefore));
            Assert.That(QemuTools.CheckJson(top).Code, Is.EqualTo(0));
        });
    }

    [TestCase("raw")]
    [TestCase("qcow2")]
    public void Convert_TargetIsTheSourcesExternalDataFile_RefusedUnchanged(string format)
    {
        var (_, _, dataImage, data) = Chain();
        string before = Checksum.Sha256OfFile(data);

        Assert.Throws<SameFileException>(() => ImageConverter.Convert(dataImage, data, new ConvertOptions { TargetFormat = format }));

        Assert.That(Checksum.Sha256OfFile(data), Is.EqualTo(before));
    }

    [Test]
    public void Convert_Qcow2TargetWhoseDataFileIsTheSourcesBackingFile_RefusedBeforeEitherIsTruncated()
    {
        var (top, baseRaw, _, _) = Chain();
        string target = PathOf("out.qcow2");
        File.WriteAllBytes(target, [1, 2, 3]);
        string before = Checksum.Sha256OfFile(baseRaw);

        Assert.Throws<SameFileException>(() => ImageConverter.Convert(top, target, new ConvertOptions
        {
            TargetFormat = "qcow2",
            Qcow2 = new Qcow2CreateOptions { DataFile = baseRaw },
        }));

        Assert.Multiple(() =>
        {
            Assert.That(Checksum.Sha256OfFile(baseRaw), Is.EqualTo(before));
            Assert.That(File.ReadAllBytes(target), Is.EqualTo(new byte[] { 1, 2, 3 }));
        });
    }

    /// <summary>
    /// Regression: a qcow2 target in use was re-created (truncated, new header) before the lock error came; a raw
    /// target in use was overwritten without one. Both are now refused before anything is written.
    /// </summary>
    [TestCase("raw", false)]
    [TestCase("qcow2", false)]
    [TestCase("qcow2", true)]
    public void Convert_TargetHeldByQemuIo_LockErrorTargetUnchanged(string format, bool holderReadOnly)
    {
        var (top, _, _, _) = Chain();
        string target = PathOf("busy." + format);
        if (format == "qcow2")
        {
            QemuTools.Create(target, "cluster_size=65536", 1 << 20);
            QemuTools.QemuIo(target, "write -P 0x77 0 128k");
        }
        else
        {
            File.WriteAllBytes(target, Enumerable.Repeat((byte)0x77, 1 << 20).ToArray());
        }

        string before = Checksum.Sha256OfFile(target);
        using (new QemuIoHolder(target, format, holderReadOnly))
        {
            var e = Assert.Throws<ImageLockedException>(() => ImageConverter.Convert(top, target, new ConvertOptions { TargetFormat = format }));
            Assert.That(e!.Message, Does.Contain("image is in use by another process"));
        }

        Assert.That(Checksum.Sha256OfFile(target), Is.EqualTo(before));
    }

    [Test]
    public void Convert_NewTargetNobodyUses_CreatedAndIdentical()
    {
        var (top, _, _, _) = Chain();
        string target = PathOf("fresh.raw");

        ImageConverter.Convert(top, target, new ConvertOptions());

        Assert.That(QemuTools.Compare(top, target, "qcow2", "raw"), Is.True);
    }

    /// <summary>
    /// Issue 18: two compressed writes in a row share a host cluster when the second fits in the rest of the first's
    /// (each write used to start on a fresh host cluster), and the image stays consistent for qemu-img.
    /// </summary>
    [Test]
    public void WriteCompressed_TwoWritesInARow_PackedIntoOneHostCluster()
    {
        const int cluster = 65536;
        string image = PathOf("packed.qcow2");
        Qcow2Creator.Create(image, new Qcow2CreateOptions { Size = 4 * cluster, ClusterSize = cluster, ExtendedL2 = false });
        var rng = new Random(18);
        var first = new byte[cluster];
        var second = new byte[cluster];
        for (int i = 0; i < cluster; i++)
        {
            first[i] = (byte)rng.Next(1, 5); // 2 bits of entropy a byte: about a quarter of a cluster compressed
            second[i] = (byte)rng.Next(1, 5);
        }

        using (var disk = Qcow2Mount.Core.Qcow2.Qcow2Image.Open(image))
        {
            disk.WriteCompressed(0, first);
            disk.WriteCompressed(2 * cluster, second);
        }

        var expected = new byte[4 * cluster];
        first.CopyTo(expected, 0);
        second.CopyTo(expected, 2 * cluster);
        string raw = PathOf("packed.raw");
        File.WriteAllBytes(raw, expected);
        var (code, check) = QemuTools.CheckJson(image);
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(0), check.ToJsonString());
            Assert.That(QemuTools.Long(check, "compressed-clusters"), Is.EqualTo(2));
            Assert.That(CompressedHostClusters(image), Is.EqualTo(1), "host clusters holding the two compressed clusters");
            Assert.That(QemuTools.Compare(raw, image, "raw", "qcow2"), Is.True);
        });
    }

    /// <summary>How many host clusters the compressed clusters of a one-L2-table, 64 KiB-cluster image touch (spec §8: the descriptor's offset and sector count).</summary>
    private static int CompressedHostClusters(string image)
    {
        const int clusterBits = 16, offsetBits = 62 - (clusterBits - 8);
        var file = File.ReadAllBytes(image);
        long l1 = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(file.AsSpan(40));
        long l2 = (long)(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(file.AsSpan((int)l1)) & 0x00ff_ffff_ffff_fe00UL);
        var touched = new HashSet<long>();
        for (int i = 0; i < 1 << (clusterBits - 3); i++)
        {
            ulong entry = System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(file.AsSpan((int)l2 + (8 * i)));
            if ((entry & (1UL << 62)) == 0)
            {
                continue;
            }

            long offset = (long)(entry & ((1UL << offsetBits) - 1));
            long sectors = (long)((entry >> offsetBits) & ((1UL << (62 - offsetBits)) - 1)) + 1;
            long last = ((offset & ~511L) + (sectors * 512) - 1) >> clusterBits;
            for (long c = offset >> clusterBits; c <= Math.Min(last, (file.Length - 1) >> clusterBits); c++)
            {
                touched.Add(c);
            }
        }

        return touched.Count;
    }

    private static string HardLink(string existing, string link)
    {
        QemuTools.Ok("ln", existing, link);
        return link;
    }
}
