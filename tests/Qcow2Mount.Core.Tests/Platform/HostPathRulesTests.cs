using Qcow2Mount.Core.Platform;

namespace Qcow2Mount.Core.Tests.Platform;

/// <summary>
/// The two rule sets for names an image writes (backing file, data file): POSIX, where a backslash is an ordinary
/// character (QEMU on Linux), and Windows, where it separates and drives and UNC names are absolute (QEMU on Windows).
/// </summary>
[TestFixture]
[Category(TestCategories.Unit)]
internal sealed class HostPathRulesTests
{
    private static readonly object[] PosixCombine =
    [
        new object[] { "/img/sub/top.qcow2", "base.qcow2", "/img/sub/base.qcow2" },
        new object[] { "/img/sub/top.qcow2", "../base.qcow2", "/img/sub/../base.qcow2" },
        new object[] { "/img/sub/top.qcow2", "..\\base.qcow2", "/img/sub/..\\base.qcow2" },
        new object[] { "sub\\top.qcow2", "base.qcow2", "base.qcow2" },
        new object[] { "top.qcow2", "base.qcow2", "base.qcow2" },
        new object[] { "/img/top.qcow2", "/abs/base.qcow2", "/abs/base.qcow2" },
        new object[] { "/img/top.qcow2", "C:\\base.qcow2", "/img/C:\\base.qcow2" },
        new object[] { "/img/top.qcow2", "\\\\server\\share\\base.qcow2", "/img/\\\\server\\share\\base.qcow2" },
    ];

    private static readonly object[] WindowsCombine =
    [
        new object[] { "C:\\img\\sub\\top.qcow2", "base.qcow2", "C:\\img\\sub\\base.qcow2" },
        new object[] { "C:\\img\\sub\\top.qcow2", "..\\base.qcow2", "C:\\img\\sub\\..\\base.qcow2" },
        new object[] { "sub\\top.qcow2", "..\\base.qcow2", "sub\\..\\base.qcow2" },
        new object[] { "C:/img/sub\\top.qcow2", "b.qcow2", "C:/img/sub\\b.qcow2" },
        new object[] { "C:\\img\\sub/top.qcow2", "b.qcow2", "C:\\img\\sub/b.qcow2" },
        new object[] { "C:top.qcow2", "base.qcow2", "C:base.qcow2" },
        new object[] { "top.qcow2", "base.qcow2", "base.qcow2" },
        new object[] { "\\\\server\\share\\top.qcow2", "base.qcow2", "\\\\server\\share\\base.qcow2" },
        new object[] { "C:\\img\\top.qcow2", "D:\\base.qcow2", "D:\\base.qcow2" },
        new object[] { "C:\\img\\top.qcow2", "d:base.qcow2", "d:base.qcow2" },
        new object[] { "C:\\img\\top.qcow2", "\\base.qcow2", "\\base.qcow2" },
        new object[] { "C:\\img\\top.qcow2", "/base.qcow2", "/base.qcow2" },
        new object[] { "C:\\img\\top.qcow2", "\\\\server\\share\\base.qcow2", "\\\\server\\share\\base.qcow2" },
        new object[] { "C:\\img\\top.qcow2", "\\\\.\\PhysicalDrive1", "\\\\.\\PhysicalDrive1" },
    ];

    [TestCaseSource(nameof(PosixCombine))]
    public void Combine_Posix_BackslashIsAnOrdinaryCharacter(string referrer, string name, string expected) =>
        Assert.That(HostPathRules.Posix.Combine(referrer, name), Is.EqualTo(expected));

    [TestCaseSource(nameof(WindowsCombine))]
    public void Combine_Windows_BothSlashesSeparateAndDrivesAreAbsolute(string referrer, string name, string expected) =>
        Assert.That(HostPathRules.Windows.Combine(referrer, name), Is.EqualTo(expected));

    [TestCase("/base.qcow2", true)]
    [TestCase("base.qcow2", false)]
    [TestCase("..\\base.qcow2", false)]
    [TestCase("\\base.qcow2", false)]
    [TestCase("C:\\base.qcow2", false)]
    [TestCase("\\\\server\\share\\base.qcow2", false)]
    [TestCase("", false)]
    public void IsAbsolute_Posix_OnlyALeadingSlash(string name, bool expected) =>
        Assert.That(HostPathRules.Posix.IsAbsolute(name), Is.EqualTo(expected));

    [TestCase("/base.qcow2", true)]
    [TestCase("\\base.qcow2", true)]
    [TestCase("C:\\base.qcow2", true)]
    [TestCase("z:base.qcow2", true)]
    [TestCase("\\\\server\\share\\base.qcow2", true)]
    [TestCase("\\\\?\\C:\\base.qcow2", true)]
    [TestCase("base.qcow2", false)]
    [TestCase("..\\base.qcow2", false)]
    [TestCase("1:base.qcow2", false)]
    [TestCase(":base.qcow2", false)]
    [TestCase("", false)]
    public void IsAbsolute_Windows_SlashBackslashOrDrive(string name, bool expected) =>
        Assert.That(HostPathRules.Windows.IsAbsolute(name), Is.EqualTo(expected));

    [Test]
    public void Resolve_PosixWithBackslashName_StaysAFileInTheImageFolder()
    {
        string resolved = HostPathRules.Posix.Resolve("/img/sub/top.qcow2", "..\\base.qcow2");
        Assert.That(resolved, Is.EqualTo("/img/sub/..\\base.qcow2"));
    }

    [Test]
    public void Resolve_PosixRelativeReferrer_ResolvesAgainstItsFullFolder()
    {
        string expected = Path.Combine(Path.GetFullPath("rel"), "base.qcow2");
        Assert.That(HostPathRules.Posix.Resolve(Path.Combine("rel", "sub", "top.qcow2"), "../base.qcow2"), Is.EqualTo(expected));
    }

    [Test]
    public void Current_OnLinux_IsPosix() =>
        Assert.That(HostPathRules.Current, Is.SameAs(OperatingSystem.IsWindows() ? HostPathRules.Windows : HostPathRules.Posix));
}
