using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>
/// Issue 18 target 7: zstd clusters through the system libzstd (<see cref="Core.Platform.NativeZstdCodec"/>) where it loads, the
/// managed port (<see cref="ManagedZstdCodec"/>) elsewhere. Each reads the other's frames, both follow QEMU's reading
/// rules (several frames, trailing bytes, a window cap), and their frames are the same size within 2 %.
/// </summary>
[TestFixture]
[Category(TestCategories.Unit)]
public sealed class ZstdCodecTests
{
    private const int Cluster = 65536;

    private const string Library = "libzstd.so.1";

    private static ZstdCodec Native
    {
        get
        {
            RequiredTools.Require("/usr/lib/x86_64-linux-gnu/libzstd.so.1");
            return ZstdCodec.Native ?? throw new InvalidOperationException($"{Library} is there but did not load");
        }
    }

    private static IEnumerable<TestCaseData> Pairs()
    {
        foreach (string writer in new[] { "native", "managed" })
        {
            foreach (string reader in new[] { "native", "managed" })
            {
                yield return new TestCaseData(writer, reader).SetArgDisplayNames(writer, reader);
            }
        }
    }

    private static IEnumerable<TestCaseData> Codecs() =>
        [new TestCaseData("native").SetArgDisplayNames("native"), new TestCaseData("managed").SetArgDisplayNames("managed")];

    [Test]
    public void Current_LinuxWithLibzstd1_IsTheSystemLibrary()
    {
        var native = Native;
        Assert.Multiple(() =>
        {
            Assert.That(ZstdCodec.Current, Is.SameAs(native));
            Assert.That(Core.Interop.Zstd.VersionNumber(), Is.GreaterThanOrEqualTo(Core.Interop.Zstd.MinimumVersion));
        });
    }

    [Test]
    public void Force_Managed_CurrentIsManagedOnThisFlowAndTheThreadsItStarts()
    {
        ZstdCodec? onThread = null;
        using (ZstdCodec.Force(ZstdCodec.Managed))
        {
            var thread = new Thread(() => onThread = ZstdCodec.Current);
            thread.Start();
            thread.Join();
            Assert.That(ZstdCodec.Current, Is.SameAs(ZstdCodec.Managed));
        }

        Assert.Multiple(() =>
        {
            Assert.That(onThread, Is.SameAs(ZstdCodec.Managed));
            Assert.That(ZstdCodec.Current, Is.SameAs(Native));
        });
    }

    /// <summary>A frame followed by the start of the next cluster's frame (the sector-rounded read QEMU's descriptor asks for).</summary>
    [TestCaseSource(nameof(Pairs))]
    public void Decompress_FrameOfEitherCodecWithTrailingBytes_ReturnsTheCluster(string writer, string reader)
    {
        var cluster = TextLike(Cluster, seed: 1);
        var frame = CompressWith(Pick(writer), cluster);
        var input = frame.Concat(CompressWith(Pick(writer), TextLike(Cluster, seed: 2)).Take(300)).ToArray();
        var output = new byte[Cluster];

        int produced = Pick(reader).Decompress(input, output);

        Assert.Multiple(() =>
        {
            Assert.That(produced, Is.EqualTo(Cluster));
            Assert.That(output, Is.EqualTo(cluster));
        });
    }

    [Test]
    public void Compress_TextLikeClusters_SizesWithinTwoPercentOfTheManagedPort()
    {
        long native = 0, managed = 0;
        for (int seed = 0; seed < 16; seed++)
        {
            var cluster = TextLike(Cluster, seed);
            native += CompressWith(Native, cluster).Length;
            managed += CompressWith(ZstdCodec.Managed, cluster).Length;
        }

        Assert.That(native, Is.InRange(managed * 0.98, managed * 1.02));
    }

    /// <summary>QEMU's reader keeps decoding across frames until the cluster is full.</summary>
    [TestCaseSource(nameof(Codecs))]
    public void Decompress_TwoFrames_FillsTheCluster(string reader)
    {
        var cluster = TextLike(Cluster, seed: 3);
        var input = CompressWith(ZstdCodec.Managed, cluster.AsSpan(0, 20000).ToArray())
            .Concat(CompressWith(Native, cluster.AsSpan(20000).ToArray())).ToArray();
        var output = new byte[Cluster];

        int produced = Pick(reader).Decompress(input, output);

        Assert.Multiple(() =>
        {
            Assert.That(produced, Is.EqualTo(Cluster));
            Assert.That(output, Is.EqualTo(cluster));
        });
    }

    [TestCaseSource(nameof(Codecs))]
    public void Decompress_TruncatedFrame_ReturnsLessThanTheCluster(string reader)
    {
        var frame = CompressWith(Native, TextLike(Cluster, seed: 4));

        int produced = Pick(reader).Decompress(frame.AsSpan(0, frame.Length / 2), new byte[Cluster]);

        Assert.That(produced, Is.LessThan(Cluster));
    }

    [TestCaseSource(nameof(Codecs))]
    public void Decompress_Garbage_ThrowsInvalidData(string reader)
    {
        var garbage = new byte[4096];
        garbage.AsSpan().Fill(0x5A);

        Assert.That(() => Pick(reader).Decompress(garbage, new byte[Cluster]), Throws.InstanceOf<InvalidDataException>());
    }

    /// <summary>A frame demanding a 16 MiB window (no content size, windowLog 24) is refused: only a hostile image has one.</summary>
    [TestCaseSource(nameof(Codecs))]
    public void Decompress_WindowAbove4MiB_ThrowsInvalidData(string reader)
    {
        var data = TextLike(8 << 20, seed: 5);
        using var compressed = new MemoryStream();
        using (var stream = new CompressionStream(compressed, level: 3, leaveOpen: true))
        {
            stream.SetParameter(ZSTD_cParameter.ZSTD_c_windowLog, 24);
            stream.Write(data);
        }

        Assert.That(() => Pick(reader).Decompress(compressed.ToArray(), new byte[Cluster]), Throws.InstanceOf<InvalidDataException>());
    }

    /// <summary>After a frame was left unfinished (the output was full), the thread's next cluster still decodes.</summary>
    [TestCaseSource(nameof(Codecs))]
    public void Decompress_AfterAnUnfinishedFrame_NextClusterDecodes(string reader)
    {
        var big = CompressWith(Native, TextLike(2 * Cluster, seed: 6));
        Pick(reader).Decompress(big, new byte[Cluster]);
        var cluster = TextLike(Cluster, seed: 7);
        var output = new byte[Cluster];

        int produced = Pick(reader).Decompress(CompressWith(Native, cluster), output);

        Assert.Multiple(() =>
        {
            Assert.That(produced, Is.EqualTo(Cluster));
            Assert.That(output, Is.EqualTo(cluster));
        });
    }

    internal static ZstdCodec Pick(string name) => name == "native" ? Native : ZstdCodec.Managed;

    private static byte[] CompressWith(ZstdCodec codec, byte[] data)
    {
        var buffer = new byte[ZstdCodec.CompressBound(data.Length)];
        int length = codec.Compress(data, buffer);
        return buffer.AsSpan(0, length).ToArray();
    }

    /// <summary>Words of a small made-up vocabulary, as workload 11's text quarter.</summary>
    internal static byte[] TextLike(int length, int seed)
    {
        var rng = new Random(seed);
        var words = Enumerable.Range(0, 500).Select(_ => new string(Enumerable.Range(0, rng.Next(2, 10)).Select(_ => (char)('a' + rng.Next(26))).ToArray())).ToArray();
        var data = new byte[length];
        int i = 0;
        while (i < length)
        {
            string word = words[rng.Next(words.Length)];
            for (int c = 0; c < word.Length && i < length; c++)
            {
                data[i++] = (byte)word[c];
            }

            if (i < length)
            {
                data[i++] = (byte)(rng.Next(12) == 0 ? '\n' : ' ');
            }
        }

        return data;
    }
}
