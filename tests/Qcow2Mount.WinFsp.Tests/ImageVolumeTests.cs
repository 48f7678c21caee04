using System.Runtime.InteropServices;
using Qcow2Mount.Core;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.TestSupport;
using Qcow2Mount.WinFsp.Interop;

namespace Qcow2Mount.WinFsp.Tests;

/// <summary>The engine adapter's Windows naming rule, and the DLL location rule of the loader.</summary>
public sealed class ImageVolumeTests
{
    [Test]
    public void Constructor_NamesDifferingOnlyInCase_RefusedNamingBoth()
    {
        using var dir = new TempDir("winfsp-volume");
        var directory = new ImageDirectory();
        foreach (string sub in new[] { "a", "b" })
        {
            string path = Path.Combine(Directory.CreateDirectory(dir.File(sub)).FullName, sub == "a" ? "Disk.qcow2" : "disk.qcow2");
            QemuTools.Create(path, 1 << 20);
            directory.Add(path, DiskImage.Open(path, new ImageOpenOptions { ReadOnly = true }));
        }

        var error = Assert.Throws<ArgumentException>(() => _ = new ImageVolume(directory));
        Assert.That(error!.Message, Is.EqualTo("Disk.raw and disk.raw differ only in case: Windows cannot show both (rename one image)"));
        directory.Dispose();
    }

    [TestCase(@"C:\Program Files (x86)\WinFsp\", Architecture.X64, @"C:\Program Files (x86)\WinFsp\bin\winfsp-x64.dll")]
    [TestCase(@"C:\Program Files (x86)\WinFsp", Architecture.X64, @"C:\Program Files (x86)\WinFsp\bin\winfsp-x64.dll")]
    [TestCase(@"D:\WinFsp\", Architecture.Arm64, @"D:\WinFsp\bin\winfsp-a64.dll")]
    [TestCase(@"D:\WinFsp\", Architecture.X86, @"D:\WinFsp\bin\winfsp-x86.dll")]
    public void DllPath_InstallDirAndArchitecture_BinFolderDll(string installDir, Architecture architecture, string expected) =>
        Assert.That(WinFspLibrary.DllPath(installDir, architecture), Is.EqualTo(expected));

    [Test]
    public void Load_NotWindows_WinFspNotInstalledException()
    {
        Assume.That(OperatingSystem.IsWindows(), Is.False);
        var error = Assert.Throws<WinFspNotInstalledException>(WinFspLibrary.Load);
        Assert.That(error!.Message, Is.EqualTo("WinFsp mounts need Windows"));
    }
}
