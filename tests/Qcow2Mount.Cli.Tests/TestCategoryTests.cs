namespace Qcow2Mount.Cli.Tests;

/// <summary>Every test of this assembly carries one of <see cref="TestCategories"/>, so that <c>--filter TestCategory=…</c> leaves none out.</summary>
[TestFixture]
[Category(TestCategories.Unit)]
public sealed class TestCategoryTests
{
    [Test]
    public void EveryTest_HasAKnownCategory() =>
        Assert.That(CategoryAudit.Problems(typeof(TestCategoryTests).Assembly), Is.Empty, "tests without a category (unit, qemu, mount or slow) or with an unknown one");
}
