using Qcow2Mount.Core.Platform;

namespace Qcow2Mount.Core.Tests.Platform;

/// <summary>The words of a suggested command, quoted for sh on Linux and for cmd.exe/PowerShell on Windows.</summary>
[TestFixture]
[Category(TestCategories.Unit)]
internal sealed class ShellQuotingTests
{
    [TestCase("sub/top.qcow2", "sub/top.qcow2")]
    [TestCase("cluster_size=128k,extended_l2=on", "cluster_size=128k,extended_l2=on")]
    [TestCase("sub\\top.qcow2", "'sub\\top.qcow2'")]
    [TestCase("my disk.qcow2", "'my disk.qcow2'")]
    [TestCase("it's.qcow2", "'it'\\''s.qcow2'")]
    [TestCase("", "''")]
    public void Quote_Posix_SingleQuotesAllButPlainWords(string word, string expected) =>
        Assert.That(ShellQuoting.Posix.Quote(word), Is.EqualTo(expected));

    [TestCase("sub\\top.qcow2", "sub\\top.qcow2")]
    [TestCase("C:\\images\\top.qcow2", "C:\\images\\top.qcow2")]
    [TestCase("C:\\My Images\\top.qcow2", "\"C:\\My Images\\top.qcow2\"")]
    [TestCase("it's.qcow2", "\"it's.qcow2\"")]
    [TestCase("a&b.qcow2", "\"a&b.qcow2\"")]
    [TestCase("", "\"\"")]
    public void Quote_Windows_DoubleQuotesWordsWithSpacesOrShellCharacters(string word, string expected) =>
        Assert.That(ShellQuoting.Windows.Quote(word), Is.EqualTo(expected));
}
