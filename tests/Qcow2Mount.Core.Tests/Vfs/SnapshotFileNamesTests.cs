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

    /// <summary>Windows' reserved device names apply to the part before the first dot, which here is never a bare device name.</summary>
    [TestCase("CON", "disk@CON.raw")]
    [TestCase("nul", "disk@nul.raw")]
    [TestCase("COM1", "disk@COM1.raw")]
    [TestCase("lpt9.txt", "disk@lpt9.txt.raw")]
    [TestCase("AUX.", "disk@AUX..raw")]
    [TestCase("PRN ", "disk@PRN .raw")]
    [TestCase("s1.", "disk@s1..raw")]
    [TestCase("trailing space ", "disk@trailing space .raw")]
    public void For_ReservedOrTrailingDotOrSpace_PlainNameValidOnWindows(string snapshot, string expected)
    {
        string name = SnapshotFileNames.For("disk.raw", new SnapshotTableEntry { Id = "1", Name = snapshot });
        Assert.Multiple(() =>
        {
            Assert.That(name, Is.EqualTo(expected));
            Assert.That(WindowsNameProblem(name), Is.Null);
        });
    }

    /// <summary>
    /// Seeded random names over every character class Windows treats specially: each file name is valid on Windows
    /// (and so on Linux), and different snapshot names give different file names (before the cut and clash rules).
    /// </summary>
    [Test]
    public void For_RandomNames_ValidWindowsNamesAndDistinctNamesStayDistinct()
    {
        const string alphabet = "aZ09 .%~-@<>:\"/\\|?*\u0001\u001f\u007fé€";
        var random = new Random(20261207);
        var seen = new Dictionary<string, string>();
        for (int i = 0; i < 5000; i++)
        {
            var chars = new char[random.Next(0, 12)];
            for (int k = 0; k < chars.Length; k++)
            {
                chars[k] = alphabet[random.Next(alphabet.Length)];
            }

            string snapshot = new(chars);
            if (random.Next(4) == 0)
            {
                snapshot = new[] { "CON", "prn", "Aux", "NUL", "COM3", "lpt1" }[random.Next(6)] + snapshot;
            }

            string name = SnapshotFileNames.For("disk.raw", new SnapshotTableEntry { Id = "1", Name = snapshot });
            Assert.That(WindowsNameProblem(name), Is.Null, $"snapshot {snapshot} → {name}");
            Assert.That(seen.TryAdd(name, snapshot) || seen[name] == snapshot, Is.True, $"{snapshot} and {seen.GetValueOrDefault(name)} both give {name}");
        }
    }

    [Test]
    public void For_NameTooLongInUtf16Terms_AtMost255Utf16UnitsAndBytes()
    {
        // 4-byte UTF-8 characters are 2 UTF-16 units; 3-byte ones 1 unit: the byte limit is the tighter one for both.
        foreach (string unit in new[] { "😀", "€", "a", "%" })
        {
            string name = SnapshotFileNames.For("disk.raw", new SnapshotTableEntry { Id = "9", Name = string.Concat(Enumerable.Repeat(unit, 300)) });
            Assert.Multiple(() =>
            {
                Assert.That(Encoding.UTF8.GetByteCount(name), Is.LessThanOrEqualTo(255), unit);
                Assert.That(name, Has.Length.LessThanOrEqualTo(255), unit);
                Assert.That(WindowsNameProblem(name), Is.Null, unit);
            });
        }
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

    /// <summary>
    /// Microsoft's naming rules ("Naming Files, Paths, and Namespaces"): no &lt; &gt; : " / \ | ? * or character 1-31
    /// (nor NUL), no trailing dot or space, no reserved device name (CON PRN AUX NUL COM0-9 LPT0-9, superscript digits
    /// too) as the part before the first dot, at most 255 UTF-16 units. Null when <paramref name="name"/> obeys them.
    /// </summary>
    private static string? WindowsNameProblem(string name)
    {
        if (name.Length is 0 or > 255)
        {
            return $"length {name.Length}";
        }

        if (name.IndexOfAny(['<', '>', ':', '"', '/', '\\', '|', '?', '*']) >= 0 || name.Any(c => c < 0x20))
        {
            return "a character Windows refuses";
        }

        if (name[^1] is '.' or ' ')
        {
            return "ends in a dot or a space";
        }

        string head = name.Split('.')[0].TrimEnd(' ').ToUpperInvariant();
        bool reserved = head is "CON" or "PRN" or "AUX" or "NUL"
            || (head.Length == 4 && (head.StartsWith("COM", StringComparison.Ordinal) || head.StartsWith("LPT", StringComparison.Ordinal)) && (char.IsAsciiDigit(head[3]) || head[3] is '¹' or '²' or '³'));
        return reserved ? "a reserved device name" : null;
    }
}
