using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Tests.Qcow2.Format;

[TestFixture]
[Category(TestCategories.Unit)]
public sealed class RefcountBlockTests
{
    /// <summary>Spec §6 examples: seven used clusters (refcount 1) encode as these bytes per width.</summary>
    [TestCase(0, new byte[] { 0x7F })]
    [TestCase(1, new byte[] { 0x55, 0x15 })]
    [TestCase(2, new byte[] { 0x11, 0x11, 0x11, 0x01 })]
    [TestCase(4, new byte[] { 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1 })]
    public void Set_SevenClustersInUse_MatchesQemuBytes(int order, byte[] expected)
    {
        var block = new byte[64];
        for (int i = 0; i < 7; i++)
        {
            RefcountBlock.Set(block, i, order, 1);
        }

        Assert.That(block.AsSpan(0, expected.Length).ToArray(), Is.EqualTo(expected));
        Assert.That(block.AsSpan(expected.Length).ContainsAnyExcept((byte)0), Is.False);
    }

    public static IEnumerable<TestCaseData> Widths() => Enumerable.Range(0, 7).Select(o => new TestCaseData(o));

    [TestCaseSource(nameof(Widths))]
    public void SetThenGet_EveryIndexAndMaximum_RoundTrips(int order)
    {
        var geo = new ClusterGeometry(12, false, order);
        var block = new byte[geo.ClusterSize];
        var rng = new Random(order);
        var expected = new ulong[geo.RefblockEntries];
        for (int i = 0; i < expected.Length; i++)
        {
            expected[i] = i % 97 == 0 ? geo.MaxRefcount : (ulong)rng.NextInt64() & geo.MaxRefcount;
            RefcountBlock.Set(block, i, order, expected[i]);
        }

        for (int i = 0; i < expected.Length; i++)
        {
            Assert.That(RefcountBlock.Get(block, i, order), Is.EqualTo(expected[i]), $"index {i}");
        }
    }
}
