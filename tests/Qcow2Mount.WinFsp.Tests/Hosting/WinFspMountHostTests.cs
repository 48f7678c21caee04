using Qcow2Mount.TestSupport;
using Qcow2Mount.WinFsp.Hosting;

namespace Qcow2Mount.WinFsp.Tests.Hosting;

/// <summary>
/// The Windows mount host's pure rules, on Linux: how a mount point is named and when the last argument is one (the
/// double-click form has none). Its Windows side (drive letters, records, the stop event) runs in the Wine tests.
/// </summary>
#pragma warning disable CA1416 // the members tested here touch no Windows API
[Category(TestCategories.Unit)]
public sealed class WinFspMountHostTests
{
    [TestCase("q:", "Q:")]
    [TestCase("Q:", "Q:")]
    [TestCase("Q:\\", "Q:")]
    [TestCase("Q:/", "Q:")]
    public void NormalizeMountPoint_Drive_UpperLetterColon(string text, string expected) =>
        Assert.That(new WinFspMountHost().NormalizeMountPoint(text), Is.EqualTo(expected));

    [TestCase("Q")]
    [TestCase("QQ:")]
    [TestCase("1:")]
    [TestCase("Q:x")]
    public void DriveOf_NotADrive_Null(string text) => Assert.That(WinFspMountHost.DriveOf(text), Is.Null);

    [Test]
    public void NamesMountPoint_DoubleClickForms_ImagesOnlyOrPlaceLast()
    {
        using var dir = new TempDir("winfsp-names");
        string a = Path.Combine(dir.Path, "a.qcow2");
        string b = Path.Combine(dir.Path, "b.qcow2");
        File.WriteAllText(a, string.Empty);
        File.WriteAllText(b, string.Empty);
        var host = new WinFspMountHost();
        Assert.Multiple(() =>
        {
            Assert.That(host.NamesMountPoint([a]), Is.False, "one image: the host picks the drive");
            Assert.That(host.NamesMountPoint([a, b]), Is.False, "two existing images: both are images");
            Assert.That(host.NamesMountPoint([a, "Q:"]), Is.True, "a drive");
            Assert.That(host.NamesMountPoint([a, b, "q:\\"]), Is.True, "a drive after several images");
            Assert.That(host.NamesMountPoint([a, Path.Combine(dir.Path, "mnt")]), Is.True, "a folder WinFsp is to make");
        });
    }

    [TestCase(1u, false, true)]
    [TestCase(1u, true, false)]
    [TestCase(2u, false, false)]
    [TestCase(0u, false, false)]
    public void ConsoleWindowIsOwn_ProcessCountAndRedirection_MessageBoxOnlyForTheProgramsOwnWindow(uint processes, bool redirected, bool expected) =>
        Assert.That(ConsoleWindow.IsOwn(processes, redirected), Is.EqualTo(expected));
}
