using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Tests.Qcow2.Format;

[TestFixture]
[Category(TestCategories.Unit)]
public sealed class CompressedDescriptorTests
{
    [TestCase(16, 54)]
    [TestCase(9, 61)]
    [TestCase(21, 49)]
    public void OffsetBits_FollowsSpecFormula(int clusterBits, int expected) =>
        Assert.That(CompressedDescriptor.OffsetBits(clusterBits), Is.EqualTo(expected));

    [TestCase(16, 0x30000L, 1000)]
    [TestCase(16, 0x301F0L, 3000)]
    [TestCase(9, 0x1234L, 300)]
    [TestCase(21, 0x7FF00L, 500_000)]
    public void EncodeDecode_RoundTripsOffsetAndCoversLength(int clusterBits, long offset, int length)
    {
        var entry = CompressedDescriptor.Encode(new HostOffset(offset), length, clusterBits);
        var d = CompressedDescriptor.Decode(entry, clusterBits);
        Assert.Multiple(() =>
        {
            Assert.That(entry.IsCompressed, Is.True);
            Assert.That(entry.IsCopied, Is.False);
            Assert.That(entry.Bitmap, Is.Zero);
            Assert.That(d.HostOffset.Value, Is.EqualTo(offset));
            Assert.That(d.CompressedLength, Is.GreaterThanOrEqualTo(length));
            Assert.That(d.CompressedLength - length, Is.LessThan(512), "rounded to the end of the last sector only");
        });
    }
}
