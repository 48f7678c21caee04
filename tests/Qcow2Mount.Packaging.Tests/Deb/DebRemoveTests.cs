using Qcow2Mount.Packaging.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Packaging.Tests.Deb;

/// <summary>dpkg -r of the built .deb leaves nothing: no file or folder it brought, no desktop/MIME association.</summary>
[TestFixture]
[NonParallelizable]
internal sealed class DebRemoveTests
{
    [Test]
    public void Remove_AfterInstall_LeavesNothingBehind()
    {
        _ = PackageArtifacts.Deb;
        DebPackage.RequireNotInstalled();
        string[] paths = DebPackage.Paths();
        var existedBefore = paths.Where(Path.Exists).ToHashSet();
        DebPackage.Install();
        var installed = paths.Where(p => !existedBefore.Contains(p) && Path.Exists(p)).ToArray();
        string handler = DebPackage.DefaultHandler("application/x-qemu-disk");

        DebPackage.Remove();

        Assert.Multiple(() =>
        {
            Assert.That(installed, Does.Contain("/usr/bin/qcow2mount").And.Contain(DebPackage.DesktopFile), "the install brought them");
            Assert.That(handler, Is.EqualTo("qcow2mount.desktop"), "the install made the association");
            Assert.That(paths.Where(Path.Exists), Is.EquivalentTo(existedBefore), "paths of the package after dpkg -r");
            Assert.That(DebPackage.IsInstalled(), Is.False);
            Assert.That(ProcessRunner.Capture("dpkg-query", ["-W", "-f=${db:Status-Abbrev}", DebPackage.Name]).StandardOutput.Trim(), Is.Not.EqualTo("rc"), "no leftover configuration files");
            Assert.That(DebPackage.DefaultHandler("application/x-qemu-disk"), Is.Empty);
            Assert.That(File.ReadAllText("/usr/share/applications/mimeinfo.cache"), Does.Not.Contain("qcow2mount"));
        });
    }
}
