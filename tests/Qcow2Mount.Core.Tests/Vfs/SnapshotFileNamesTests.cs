using System.Text;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Vfs;

/// <summary>The documented naming rule of snapshot files: NAME@SNAPSHOT.raw, with %XX escapes and a cut for long names.</summary>
[TestFixture]
[Category(TestCategories.Unit)]
public sealed class SnapshotFileNamesTests
{
    [TestCase("s1", "disk@s1.raw")]
    [TestCase("a/b", "disk@a%2Fb.raw")]
    [TestCase("50%", "disk@50%25.raw")]
    [TestCase("%2F", "disk@%252F.raw")]
    [TestCase("nul\0x", "disk@nul%00x.raw")]
    [TestCase(".", "disk@..raw")]
    [TestCase("..", "disk@...raw")]
    [TestCase("", "disk@.raw")]
    [TestCase("win\\:*?\"<>|", "disk@win%5C%3A%2A%3F%22%3C%3E%7C.raw")]
    [TestCase("tab\tnew\nline", "disk@tab%09new%0Aline.raw")]
    [TestCase("grüße", "disk@grüße.raw")]
    public void For_SnapshotName_IsEscapedAsDocumented(string snapshot, string expected)
    {
        Assert.That(SnapshotFileNames.For("disk.raw", new SnapshotTableEntry { Id = "1", Name = snapshot }), Is.EqualTo(expected));
    }

    [Test]
    public void For_NameTooLong_IsCutToNameMaxAndEndsInTheId()
    {
        string longName = string.Concat(Enumerable.Repeat("ü/", 200));
        string name = SnapshotFileNames.For("disk.raw", new SnapshotTableEntry { Id = "17", Name = longName });
        Assert.Multiple(() =>
        {
            Assert.That(Encoding.UTF8.GetByteCount(name), Is.LessThanOrEqualTo(VolumeCapacity.NameMax));
            Assert.That(name, Does.StartWith("disk@ü%2Fü").And.EndWith("~17.raw"));
            Assert.That(name[..^"~17.raw".Length], Does.Not.EndWith("%").And.Not.EndWith("%2"), "never half an escape");
        });
    }
}
