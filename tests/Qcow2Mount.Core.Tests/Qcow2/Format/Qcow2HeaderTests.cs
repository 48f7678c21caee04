using System.Buffers.Binary;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Tests.Qcow2.Format;

[TestFixture]
[Category(TestCategories.Unit)]
public sealed class Qcow2HeaderTests
{
    private static Qcow2Header ValidV3()
    {
        var h = new Qcow2Header
        {
            Version = 3,
            ClusterBits = 16,
            Size = 1L << 30,
            L1Size = 2,
            L1TableOffset = 0x30000,
            RefcountTableOffset = 0x10000,
            RefcountTableClusters = 1,
            IncompatibleFeatures = FeatureBits.IncompatibleExtendedL2,
            RefcountOrder = 4,
            Extensions = [new HeaderExtension(HeaderExtension.FeatureNameTable, Qcow2Header.StandardFeatureNameTable())],
        };
        return h;
    }

    private static byte[] Serialize(Qcow2Header h)
    {
        var cluster = new byte[h.ClusterSize];
        h.Serialize(cluster);
        return cluster;
    }

    [Test]
    public void SerializeParse_V3WithBackingAndUnknownExtension_RoundTrips()
    {
        var h = (ValidV3() with { BackingFile = "base.qcow2" })
            .WithStringExtension(HeaderExtension.BackingFormat, "qcow2")
            .WithExtension(new HeaderExtension(0x12345678, [1, 2, 3]));
        var parsed = Qcow2Header.Parse(Serialize(h), "t");
        Assert.Multiple(() =>
        {
            Assert.That(parsed.Version, Is.EqualTo(3));
            Assert.That(parsed.HeaderLength, Is.EqualTo(112));
            Assert.That(parsed.Size, Is.EqualTo(1L << 30));
            Assert.That(parsed.HasExtendedL2, Is.True);
            Assert.That(parsed.BackingFile, Is.EqualTo("base.qcow2"));
            Assert.That(parsed.BackingFormat, Is.EqualTo("qcow2"));
            Assert.That(parsed.FindExtension(0x12345678)?.Data, Is.EqualTo(new byte[] { 1, 2, 3 }));
            Assert.That(Serialize(parsed), Is.EqualTo(Serialize(h)), "a parsed header serializes to the same bytes");
        });
    }

    [Test]
    public void Parse_UnknownTrailingHeaderBytes_KeptVerbatim()
    {
        var bytes = Serialize(ValidV3());
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(100), 120);
        bytes.AsSpan(112, 8).Fill(0xAB);
        // Extensions start after the longer header now: move the end marker there.
        bytes.AsSpan(120).Clear();
        var parsed = Qcow2Header.Parse(bytes, "t");
        Assert.That(parsed.UnknownHeaderBytes, Is.EqualTo(Enumerable.Repeat((byte)0xAB, 8).ToArray()));
        var again = Serialize(parsed);
        Assert.That(again.AsSpan(112, 8).ToArray(), Is.EqualTo(Enumerable.Repeat((byte)0xAB, 8).ToArray()));
    }

    [Test]
    public void Parse_V2_ImpliesDefaults()
    {
        var h = ValidV3() with { Version = 2, IncompatibleFeatures = 0, Extensions = [] };
        var parsed = Qcow2Header.Parse(Serialize(h), "t");
        Assert.Multiple(() =>
        {
            Assert.That(parsed.HeaderLength, Is.EqualTo(72));
            Assert.That(parsed.RefcountOrder, Is.EqualTo(4));
            Assert.That(parsed.IncompatibleFeatures, Is.Zero);
        });
    }

    public static IEnumerable<TestCaseData> BrokenFields()
    {
        yield return new TestCaseData(0, 0xDEADBEEFu, typeof(ImageFormatException), "magic").SetName("Parse_BadMagic_Refused");
        yield return new TestCaseData(4, 4u, typeof(UnsupportedFeatureException), "version 4").SetName("Parse_Version4_Refused");
        yield return new TestCaseData(20, 8u, typeof(ImageFormatException), "cluster_bits 8").SetName("Parse_ClusterBits8_Refused");
        yield return new TestCaseData(20, 22u, typeof(ImageFormatException), "cluster_bits 22").SetName("Parse_ClusterBits22_Refused");
        yield return new TestCaseData(32, 2u, typeof(UnsupportedFeatureException), "LUKS").SetName("Parse_Encrypted_Refused");
        yield return new TestCaseData(96, 7u, typeof(ImageFormatException), "refcount_order 7").SetName("Parse_RefcountOrder7_Refused");
        yield return new TestCaseData(100, 100u, typeof(ImageFormatException), "header_length 100").SetName("Parse_HeaderLengthBelow104_Refused");
        yield return new TestCaseData(100, 70000u, typeof(ImageFormatException), "header_length 70000").SetName("Parse_HeaderLengthAboveCluster_Refused");
    }

    [TestCaseSource(nameof(BrokenFields))]
    public void Parse_BrokenField_RefusedNamingIt(int offset, uint value, Type exception, string message)
    {
        var bytes = Serialize(ValidV3());
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(offset), value);
        var ex = Assert.Throws(exception, () => Qcow2Header.Parse(bytes, "t"));
        Assert.That(ex!.Message, Does.Contain(message));
    }

    [Test]
    public void Parse_UnknownIncompatibleBitNamedInTable_MessageUsesName()
    {
        var table = new byte[48];
        table[0] = 0;
        table[1] = 9;
        "future feature"u8.CopyTo(table.AsSpan(2));
        var h = ValidV3() with { Extensions = [new HeaderExtension(HeaderExtension.FeatureNameTable, table)] };
        h = h.WithIncompatible(1UL << 9, set: true);
        var ex = Assert.Throws<UnsupportedFeatureException>(() => Qcow2Header.Parse(Serialize(h), "t"));
        Assert.That(ex!.Message, Does.Contain("future feature (bit 9)"));
    }

    [Test]
    public void Parse_CompressionTypeWithoutIncompatibleBit_Refused()
    {
        var bytes = Serialize(ValidV3());
        bytes[104] = 1;
        Assert.That(() => Qcow2Header.Parse(bytes, "t"), Throws.TypeOf<ImageFormatException>().With.Message.Contains("compression_type"));
    }

    [Test]
    public void Parse_ExtensionLengthPastCluster_Refused()
    {
        var bytes = Serialize(ValidV3());
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(116), 0x7FFFFFFF);
        Assert.That(() => Qcow2Header.Parse(bytes, "t"), Throws.TypeOf<ImageFormatException>().With.Message.Contains("beyond the header area"));
    }

    [Test]
    public void Parse_ExtendedL2WithSmallClusters_Refused()
    {
        var h = ValidV3() with { ClusterBits = 13, Extensions = [] };
        Assert.That(() => Qcow2Header.Parse(Serialize(h), "t"), Throws.TypeOf<UnsupportedFeatureException>().With.Message.Contains("subcluster size"));
    }
}
