using Qcow2Mount.Core.Tools;

namespace Qcow2Mount.Core.Tests.Tools;

/// <summary>
/// ImageComparer against qemu-img compare on the same images (made by qemu-img and qemu-io): the same verdict and
/// the same lines, in default and in strict mode, for every image shape the walk treats differently.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class ImageComparerTests : ToolsTestDirectory
{
    public static readonly CompareCase[] Cases =
    [
        new("FullImageVsRawCopy", d =>
        {
            Q(d, "a", "cluster_size=65536", "4M", "write -P 1 0 4M");
            Flatten(d, "a", "b");
        }, FormatB: "raw"),
        new("OneByteDiffersMidCluster", d =>
        {
            Q(d, "a", "cluster_size=65536", "4M", "write -P 1 0 4M");
            Copy(d, "a", "b");
            QemuTools.QemuIo(P(d, "b"), "write -P 2 100000 1");
        }),
        new("DiffersInSecondPieceOfLongRun", d =>
        {
            Q(d, "a", "cluster_size=2M", "16M", "write -P 1 0 16M");
            Copy(d, "a", "b");
            QemuTools.QemuIo(P(d, "b"), "write -P 3 5243657 3");
        }),
        new("AllocatedZerosVsUnallocated", d =>
        {
            Q(d, "a", "cluster_size=65536", "4M", "write -P 0 1M 64k");
            Q(d, "b", "cluster_size=65536", "4M");
        }),
        new("DataVsUnallocated", d =>
        {
            Q(d, "a", "cluster_size=65536", "4M", "write -P 5 1052672 512");
            Q(d, "b", "cluster_size=65536", "4M");
        }),
        new("ZeroClustersVsUnallocated", d =>
        {
            Q(d, "a", "cluster_size=65536", "4M", "write -P 1 0 2M", "write -z 0 1M");
            Q(d, "b", "cluster_size=65536", "4M", "write -P 1 1M 1M");
        }),
        new("LongerImageWithEmptyTail", d =>
        {
            Q(d, "a", "cluster_size=65536", "4M", "write -P 1 0 1M");
            Q(d, "b", "cluster_size=65536", "6M", "write -P 1 0 1M");
        }),
        new("LongerImageWithDataInTail", d =>
        {
            Q(d, "a", "cluster_size=65536", "4M");
            Q(d, "b", "cluster_size=65536", "6M", "write -P 9 5243880 10");
        }),
        new("LongerImageWithZerosWrittenInTail", d =>
        {
            Q(d, "a", "cluster_size=65536", "4M", "write -P 4 0 64k");
            Q(d, "b", "cluster_size=65536", "6M", "write -P 4 0 64k", "write -P 0 5M 64k", "write -z 4M 64k");
        }),
        new("ShorterSecondImageWithDataPastIt", d =>
        {
            Q(d, "a", "cluster_size=65536", "6M", "write -P 9 4M 4k");
            Raw(d, "b", "4M");
        }, FormatB: "raw"),
        new("ExtendedL2SubclustersVsRawCopy", d =>
        {
            Q(d, "a", "extended_l2=on,cluster_size=65536", "8M", "write -P 1 1k 3k", "write -P 2 100k 300k", "write -z 1M 64k", "write -z 1100k 4k", "write -c 2M 64k");
            Flatten(d, "a", "b");
        }, FormatB: "raw"),
        new("ExtendedL2OneSubclusterDiffers", d =>
        {
            Q(d, "a", "extended_l2=on,cluster_size=131072", "8M", "write -P 1 0 8k", "write -P 1 1M 4k");
            Q(d, "b", "extended_l2=on,cluster_size=131072", "8M", "write -P 1 0 8k", "write -P 1 1M 4k", "write -P 7 1052672 4k");
        }),
        new("ExtendedL2VsStandardSameContent", d =>
        {
            Q(d, "a", "extended_l2=on,cluster_size=65536", "4M", "write -P 6 8k 4k", "write -P 6 1M 64k");
            Q(d, "b", "extended_l2=off,cluster_size=65536", "4M", "write -P 6 8k 4k", "write -P 6 1M 64k");
        }),
        new("OverlayOverPopulatedBaseVsFlattened", d =>
        {
            Q(d, "base", "cluster_size=65536", "8M", "write -P 17 0 8M");
            Overlay(d, "a", "base", "extended_l2=on,cluster_size=131072", "write -P 34 12k 4k", "write -P 34 3M 4k", "write -z 5M 128k");
            Flatten(d, "a", "b");
        }, FormatB: "raw"),
        new("OverlayVsFlattenedWithOneBaseByteChanged", d =>
        {
            Q(d, "base", "cluster_size=65536", "8M", "write -P 17 0 8M");
            Overlay(d, "a", "base", "extended_l2=on,cluster_size=131072", "write -P 34 12k 4k");
            Flatten(d, "a", "b");
            QemuTools.Ok("qemu-io", "-f", "raw", "-c", "write -P 99 7340037 1", P(d, "b"));
        }, FormatB: "raw"),
        new("TwoOverlaysOfOneBaseDiffering", d =>
        {
            Q(d, "base", "cluster_size=65536", "8M", "write -P 17 0 8M");
            Overlay(d, "a", "base", "cluster_size=65536", "write -P 1 2M 4k");
            Overlay(d, "b", "base", "cluster_size=65536", "write -P 1 2M 4k", "write -P 2 6M 512");
        }),
        new("TwoOverlaysOfOneBaseIdentical", d =>
        {
            Q(d, "base", "cluster_size=65536", "8M", "write -P 17 0 8M");
            Overlay(d, "a", "base", "cluster_size=65536", "write -P 1 2M 4k");
            Overlay(d, "b", "base", "extended_l2=on,cluster_size=65536", "write -P 1 2M 4k");
        }),
        new("OverlayLongerThanItsBacking", d =>
        {
            Q(d, "base", "cluster_size=65536", "2M", "write -P 17 0 2M");
            Overlay(d, "a", "base", "cluster_size=65536", "write -P 1 3M 4k", size: "4M");
            Flatten(d, "a", "b");
        }, FormatB: "raw"),
        new("OverlayOverRawBacking", d =>
        {
            Raw(d, "base", "4M", "write -P 17 0 1M", "write -P 18 3M 4k");
            Overlay(d, "a", "base", "cluster_size=65536", "write -P 1 512k 4k", backingFormat: "raw");
            Flatten(d, "a", "b");
        }, FormatB: "raw"),
        new("CompressedVsRawCopy", d =>
        {
            Q(d, "src", "cluster_size=65536", "4M", "write -P 1 0 1M", "write -P 2 2M 100k");
            QemuTools.Ok("qemu-img", "convert", "-c", "-O", "qcow2", P(d, "src"), P(d, "a"));
            Flatten(d, "src", "b");
        }, FormatB: "raw"),
        new("MetadataPreallocatedVsPlain", d =>
        {
            Q(d, "a", "preallocation=metadata,cluster_size=65536", "2M", "write -P 1 0 64k");
            Q(d, "b", "cluster_size=65536", "2M", "write -P 1 0 64k");
        }),
        new("RawFilesWithHolesInDifferentPlaces", d =>
        {
            Raw(d, "a", "4M", "write -P 3 1M 64k");
            Raw(d, "b", "4M", "write -P 3 1M 64k", "write -P 0 2M 1M");
        }, FormatA: "raw", FormatB: "raw"),
        new("OddSizedRawVsQcow2", d =>
        {
            File.WriteAllBytes(P(d, "a"), Enumerable.Repeat((byte)1, 1000).ToArray());
            Q(d, "b", "cluster_size=65536", "1024", "write -P 1 0 1000");
        }, FormatA: "raw"),
        new("Version2VsVersion3", d =>
        {
            Q(d, "a", "compat=0.10,cluster_size=65536", "4M", "write -P 1 64k 64k");
            Q(d, "b", "cluster_size=65536", "4M", "write -P 1 64k 64k");
        }),
        new("LargeClustersRunsLongerThanIntMax", d =>
        {
            Q(d, "a", "cluster_size=2M", "4G", "write -P 1 3G 64k");
            Q(d, "b", "cluster_size=2M", "4G", "write -P 2 3G 64k");
        }),
        new("SparseDisksWithDifferentL2SliceSizes", d =>
        {
            Q(d, "a", "cluster_size=2M", "300G");
            Q(d, "b", "cluster_size=65536", "300G");
        }),
    ];

    [Test]
    public void Compare_QemuMadeImages_SameVerdictAndLinesAsQemuImg([ValueSource(nameof(Cases))] CompareCase c, [Values] bool strict)
    {
        c.Build(Dir);
        string a = P(Dir, "a"), b = P(Dir, "b");
        var args = new List<string> { "compare", "-f", c.FormatA, "-F", c.FormatB };
        if (strict)
        {
            args.Add("-s");
        }

        args.AddRange([a, b]);
        var theirs = QemuTools.Run("qemu-img", args.ToArray());
        var ours = ImageComparer.Compare(a, b, new CompareOptions { FirstFormat = c.FormatA, SecondFormat = c.FormatB, Strict = strict });
        Assert.Multiple(() =>
        {
            Assert.That(theirs.Code, Is.EqualTo(0).Or.EqualTo(1), theirs.Stderr);
            Assert.That(ours.Identical ? 0 : 1, Is.EqualTo(theirs.Code));
            Assert.That(string.Concat(ours.Lines.Select(l => l + "\n")), Is.EqualTo(theirs.Stdout));
        });
    }

    [Test]
    public void Compare_SparseExtendedL2Images_ReadsOnlyTheWrittenSubclusters()
    {
        // 1 TiB disks with a few 4 KiB writes: only the written subclusters are read, on both sides.
        string a = PathOf("a"), b = PathOf("b");
        string[] writes = ["write -P 1 0 4k", "write -P 2 100G 4k", "write -P 3 1023G 4k"];
        Q(Dir, "a", "extended_l2=on,cluster_size=65536", "1T", writes);
        Q(Dir, "b", "extended_l2=on,cluster_size=65536", "1T", writes);
        var result = ImageComparer.Compare(a, b, new CompareOptions());
        Assert.Multiple(() =>
        {
            Assert.That(result.Identical, Is.True);
            Assert.That(result.BytesRead, Is.EqualTo(2 * 3 * 4096));
        });
    }

    [Test]
    public void Compare_OverlaysOfOneBase_DoesNotReadTheSharedBase()
    {
        Q(Dir, "base", "cluster_size=65536", "16M", "write -P 17 0 16M");
        Overlay(Dir, "a", "base", "cluster_size=65536", "write -P 1 2M 64k");
        Overlay(Dir, "b", "base", "cluster_size=65536", "write -P 1 2M 64k");
        var result = ImageComparer.Compare(PathOf("a"), PathOf("b"), new CompareOptions());
        Assert.Multiple(() =>
        {
            Assert.That(result.Identical, Is.True);
            Assert.That(result.BytesRead, Is.EqualTo(2 * 65536), "only the overlays' own cluster is read");
        });
    }

    [Test]
    public void Compare_Progress_RisesToOne()
    {
        Q(Dir, "a", "cluster_size=65536", "8M", "write -P 1 0 8M");
        Copy(Dir, "a", "b");
        var seen = new List<double>();
        ImageComparer.Compare(PathOf("a"), PathOf("b"), new CompareOptions { Progress = seen.Add });
        Assert.Multiple(() =>
        {
            Assert.That(seen, Is.Ordered);
            Assert.That(seen[0], Is.Zero);
            Assert.That(seen[^1], Is.EqualTo(1));
            Assert.That(seen, Has.Count.GreaterThan(4), "the 8 MiB run is compared in 2 MiB pieces");
        });
    }

    [Test]
    public void Compare_CancelledToken_StopsWithOperationCanceled()
    {
        Q(Dir, "a", "cluster_size=65536", "8M", "write -P 1 0 8M");
        Copy(Dir, "a", "b");
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.That(() => ImageComparer.Compare(PathOf("a"), PathOf("b"), new CompareOptions { Cancellation = cts.Token }), Throws.InstanceOf<OperationCanceledException>());
    }

    [Test]
    public void Compare_InvalidSubclusterBitmap_FailsAtTheStatusStageLikeQemuImg()
    {
        string bad = PathOf("a");
        Q(Dir, "a", "extended_l2=on,cluster_size=65536", "1M", "write -P 1 0 64k");
        long l2 = (long)(ImageBytes.ReadU64(bad, (long)ImageBytes.ReadU64(bad, 40)) & 0x00FF_FFFF_FFFF_FE00UL);
        ImageBytes.WriteU64(bad, l2 + 8, ImageBytes.ReadU64(bad, l2 + 8) | (1UL << 32));
        Q(Dir, "b", "cluster_size=65536", "1M");
        var theirs = QemuTools.Run("qemu-img", "compare", bad, PathOf("b"));
        var e = Assert.Throws<CompareFailedException>(() => ImageComparer.Compare(bad, PathOf("b"), new CompareOptions()));
        Assert.Multiple(() =>
        {
            Assert.That(theirs.Code, Is.EqualTo(3));
            Assert.That(e!.Stage, Is.EqualTo(CompareStage.Status));
            Assert.That(e.Message, Does.StartWith($"Sector allocation test failed for {bad}"));
        });
    }

    [Test]
    public void Compare_UndecompressableCluster_FailsAtTheReadStageLikeQemuImg()
    {
        string bad = PathOf("a");
        Q(Dir, "a", "cluster_size=65536", "1M", "write -c -P 7 0 64k");
        ulong entry = ImageBytes.ReadU64(bad, (long)(ImageBytes.ReadU64(bad, (long)ImageBytes.ReadU64(bad, 40)) & 0x00FF_FFFF_FFFF_FE00UL));
        long data = (long)(entry & ((1UL << 54) - 1));
        ImageBytes.Patch(bad, data, Enumerable.Repeat((byte)0xFF, 200).ToArray());
        Q(Dir, "b", "cluster_size=65536", "1M");
        var theirs = QemuTools.Run("qemu-img", "compare", bad, PathOf("b"));
        var e = Assert.Throws<CompareFailedException>(() => ImageComparer.Compare(bad, PathOf("b"), new CompareOptions()));
        Assert.Multiple(() =>
        {
            Assert.That(theirs.Code, Is.EqualTo(4));
            Assert.That(e!.Stage, Is.EqualTo(CompareStage.Read));
            Assert.That(e.Message, Does.StartWith($"Error while reading offset 0 of {bad}: "));
        });
    }

    [TestCase("missing")]
    [TestCase("garbage")]
    public void Compare_ImageThatCannotBeOpened_FailsAtTheOpenStage(string kind)
    {
        string bad = PathOf("a");
        if (kind == "garbage")
        {
            // The qcow2 magic with a cluster_bits of 40.
            File.WriteAllBytes(bad, [0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 3, .. new byte[12], 0, 0, 0, 40, .. new byte[100]]);
        }

        Q(Dir, "b", "cluster_size=65536", "1M");
        var theirs = QemuTools.Run("qemu-img", "compare", bad, PathOf("b"));
        var e = Assert.Throws<CompareFailedException>(() => ImageComparer.Compare(bad, PathOf("b"), new CompareOptions()));
        Assert.Multiple(() =>
        {
            Assert.That(theirs.Code, Is.EqualTo(2));
            Assert.That(e!.Stage, Is.EqualTo(CompareStage.Open));
            Assert.That(e.Message, Does.StartWith($"Could not open '{bad}': "));
        });
    }

    /// <summary>One compare scenario: <see cref="Build"/> makes files "a" and "b" in the directory it is given.</summary>
    public sealed record CompareCase(string Name, Action<string> Build, string FormatA = "qcow2", string FormatB = "qcow2")
    {
        public override string ToString() => Name;
    }

    private static string P(string dir, string name) => Path.Combine(dir, name);

    private static void Q(string dir, string name, string options, string size, params string[] io)
    {
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", options, P(dir, name), size);
        if (io.Length > 0)
        {
            QemuTools.QemuIo(P(dir, name), io);
        }
    }

    private static void Raw(string dir, string name, string size, params string[] io)
    {
        QemuTools.Ok("qemu-img", "create", "-q", "-f", "raw", P(dir, name), size);
        foreach (string c in io)
        {
            QemuTools.Ok("qemu-io", "-f", "raw", "-c", c, P(dir, name));
        }
    }

    private static void Overlay(string dir, string name, string backing, string options, string? io1 = null, string? io2 = null, string? io3 = null, string? size = null, string backingFormat = "qcow2")
    {
        var args = new List<string> { "create", "-q", "-f", "qcow2", "-o", options, "-b", backing, "-F", backingFormat, P(dir, name) };
        if (size is not null)
        {
            args.Add(size);
        }

        QemuTools.Ok("qemu-img", args.ToArray());
        string[] io = new[] { io1, io2, io3 }.OfType<string>().ToArray();
        if (io.Length > 0)
        {
            QemuTools.QemuIo(P(dir, name), io);
        }
    }

    private static void Flatten(string dir, string source, string target) =>
        QemuTools.Ok("qemu-img", "convert", "-O", "raw", P(dir, source), P(dir, target));

    private static void Copy(string dir, string source, string target) => File.Copy(P(dir, source), P(dir, target));
}
