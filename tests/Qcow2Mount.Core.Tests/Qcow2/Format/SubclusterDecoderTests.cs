using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Tests.Qcow2.Format;

[TestFixture]
[Category(TestCategories.Unit)]
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

    /// <summary>Entries of every kind: standard and extended, with and without a host cluster, random bitmaps (valid and not), compressed.</summary>
    public static IEnumerable<TestCaseData> RandomEntries()
    {
        const int seed = 20261206;
        var random = new Random(seed);
        for (int i = 0; i < 400; i++)
        {
            uint alloc = (uint)random.NextInt64(0, 1L << 32);
            uint zero = (uint)random.NextInt64(0, 1L << 32);
            switch (i % 5)
            {
                case 0:
                    zero &= ~alloc; // valid with a host cluster
                    break;
                case 1:
                    alloc = 0; // valid without one
                    break;
                case 2:
                    alloc &= random.Next(2) == 0 ? 0xFFFF0000u : 0x0000FFFFu; // long runs
                    zero &= ~alloc & 0x00FFFF00u;
                    break;
            }

            long host = i % 5 == 1 ? 0 : Host;
            bool external = i % 7 == 0;
            var entry = L2Entry.Standard(new HostOffset(host), copied: host != 0 || external, L2Entry.MakeBitmap(alloc, zero), zeroFlag: i % 3 == 0);
            if (i % 11 == 0)
            {
                entry = CompressedDescriptor.Encode(new HostOffset(0x12345), 700, 16);
            }

            yield return new TestCaseData(entry, i % 4 != 0, external).SetName($"DecodeRun_Entry{i}_MatchesDecodingEverySubcluster (seed {seed})");
        }
    }

    [TestCaseSource(nameof(RandomEntries))]
    public void DecodeRun_AnyEntry_EndsWhereTheNextSubclusterDecodesDifferently(L2Entry entry, bool extendedL2, bool external)
    {
        int subclusters = extendedL2 ? 32 : 1;
        for (int sc = 0; sc < subclusters; sc++)
        {
            var state = SubclusterDecoder.DecodeRun(entry, extendedL2, sc, external, out int end);
            int expectedEnd = sc + 1;
            while (expectedEnd < subclusters && SubclusterDecoder.Decode(entry, extendedL2, expectedEnd, external) == state)
            {
                expectedEnd++;
            }

            if (state is SubclusterState.Compressed or SubclusterState.Invalid)
            {
                expectedEnd = subclusters; // a whole-entry state is one run to the cluster's end
            }

            Assert.Multiple(() =>
            {
                Assert.That(state, Is.EqualTo(SubclusterDecoder.Decode(entry, extendedL2, sc, external)), $"subcluster {sc}");
                Assert.That(end, Is.EqualTo(expectedEnd), $"run end from subcluster {sc} of {entry}");
            });
        }
    }

    [TestCase(0x50000L, false, false, ExpectedResult = true)]
    [TestCase(0L, false, false, ExpectedResult = false)]
    [TestCase(0L, true, false, ExpectedResult = false)]
    [TestCase(0L, true, true, ExpectedResult = true)]
    [TestCase(0x50000L, false, true, ExpectedResult = true)]
    public bool HasHostCluster_FollowsTheExternalDataRule(long host, bool copied, bool external) =>
        SubclusterDecoder.HasHostCluster(L2Entry.Standard(new HostOffset(host), copied), external);

    [Test]
    public void HasHostCluster_CompressedEntry_False() =>
        Assert.That(SubclusterDecoder.HasHostCluster(CompressedDescriptor.Encode(new HostOffset(0x50000), 900, 16), externalData: false), Is.False);

    [TestCase(0x00000000u, false, 0, 0)]
    [TestCase(0x00000001u, true, 0, 0)]
    [TestCase(0x00F0F000u, true, 12, 23)]
    [TestCase(0x80000000u, true, 31, 31)]
    public void TryGetAllocatedSpan_ExtendedEntry_FirstAndLastAllocatedSubcluster(uint alloc, bool found, int first, int last)
    {
        var entry = L2Entry.Standard(new HostOffset(Host), copied: true, L2Entry.MakeBitmap(alloc, 0));
        bool result = SubclusterDecoder.TryGetAllocatedSpan(entry, extendedL2: true, externalData: false, out int f, out int l);
        Assert.Multiple(() =>
        {
            Assert.That(result, Is.EqualTo(found));
            Assert.That((f, l), Is.EqualTo((first, last)));
        });
    }

    [Test]
    public void TryGetAllocatedSpan_StandardEntries_OnlyADataClusterHasOne()
    {
        Assert.Multiple(() =>
        {
            Assert.That(SubclusterDecoder.TryGetAllocatedSpan(L2Entry.Standard(new HostOffset(Host), copied: true), false, false, out _, out _), Is.True);
            Assert.That(SubclusterDecoder.TryGetAllocatedSpan(L2Entry.Standard(new HostOffset(Host), copied: true, zeroFlag: true), false, false, out _, out _), Is.False, "preallocated zero cluster");
            Assert.That(SubclusterDecoder.TryGetAllocatedSpan(default, false, false, out _, out _), Is.False, "unallocated");
        });
    }
}
