using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Tests.Qcow2.Format;

[TestFixture]
public sealed class SubclusterDecoderTests
{
    private const long Host = 0x50000;

    /// <summary>Spec §7 table: every subcluster index × (host yes/no) × (alloc, zero) bit combination.</summary>
    public static IEnumerable<TestCaseData> ExtendedCases()
    {
        for (int sc = 0; sc < 32; sc++)
        {
            uint bit = 1u << sc;
            yield return new TestCaseData(0L, 0u, 0u, sc).Returns(SubclusterState.UnallocatedPlain);
            yield return new TestCaseData(0L, 0u, bit, sc).Returns(SubclusterState.ZeroPlain);
            yield return new TestCaseData(0L, bit, 0u, sc).Returns(SubclusterState.Invalid);
            yield return new TestCaseData(Host, 0u, 0u, sc).Returns(SubclusterState.UnallocatedAlloc);
            yield return new TestCaseData(Host, 0u, bit, sc).Returns(SubclusterState.ZeroAlloc);
            yield return new TestCaseData(Host, bit, 0u, sc).Returns(SubclusterState.Normal);
            yield return new TestCaseData(Host, bit, bit, sc).Returns(SubclusterState.Invalid);
        }
    }

    [TestCaseSource(nameof(ExtendedCases))]
    public SubclusterState Decode_ExtendedEntry_FollowsSpecTable(long host, uint alloc, uint zero, int sc) =>
        SubclusterDecoder.Decode(L2Entry.Standard(new HostOffset(host), copied: host != 0, L2Entry.MakeBitmap(alloc, zero)), extendedL2: true, sc);

    [Test]
    public void Decode_AllocAndZeroOnOtherSubcluster_WholeEntryInvalid()
    {
        // QEMU flags the whole entry once any subcluster is both allocated and zero.
        var entry = L2Entry.Standard(new HostOffset(Host), copied: true, L2Entry.MakeBitmap(0b01, 0b01));
        Assert.Multiple(() =>
        {
            Assert.That(SubclusterDecoder.Decode(entry, true, 5), Is.EqualTo(SubclusterState.Invalid));
            Assert.That(SubclusterDecoder.IsInvalid(entry, true), Is.True);
        });
    }

    [TestCase(0UL, ExpectedResult = SubclusterState.UnallocatedPlain)]
    [TestCase(1UL, ExpectedResult = SubclusterState.ZeroPlain)]
    [TestCase(0x8000000000050000UL, ExpectedResult = SubclusterState.Normal)]
    [TestCase(0x8000000000050001UL, ExpectedResult = SubclusterState.ZeroAlloc)]
    [TestCase(0x4000000000000000UL, ExpectedResult = SubclusterState.Compressed)]
    public SubclusterState Decode_StandardEntry(ulong raw) => SubclusterDecoder.Decode(new L2Entry(raw, 0), extendedL2: false, 0);

    [Test]
    public void Decode_ExtendedEntryWithDescriptorBit0_Ignored()
    {
        var entry = new L2Entry(0x8000000000050001UL, L2Entry.MakeBitmap(1, 0));
        Assert.That(SubclusterDecoder.Decode(entry, true, 0), Is.EqualTo(SubclusterState.Normal));
    }

    [Test]
    public void Decode_ExternalDataCopiedAtOffsetZero_IsAllocated()
    {
        var entry = new L2Entry(L2Entry.CopiedFlag, L2Entry.MakeBitmap(1, 0));
        Assert.Multiple(() =>
        {
            Assert.That(SubclusterDecoder.Decode(entry, true, 0, externalData: true), Is.EqualTo(SubclusterState.Normal));
            Assert.That(SubclusterDecoder.Decode(entry, true, 0, externalData: false), Is.EqualTo(SubclusterState.Invalid));
        });
    }
}
