using System.Runtime.InteropServices;
using Qcow2Mount.WinFsp.Interop;

namespace Qcow2Mount.WinFsp.Tests;

/// <summary>The DLL location rule of the loader.</summary>
[Category(TestCategories.Unit)]
public sealed class WinFspLibraryTests
{
    [TestCase(@"C:\Program Files (x86)\WinFsp\", Architecture.X64, @"C:\Program Files (x86)\WinFsp\bin\winfsp-x64.dll")]
    [TestCase(@"C:\Program Files (x86)\WinFsp", Architecture.X64, @"C:\Program Files (x86)\WinFsp\bin\winfsp-x64.dll")]
    [TestCase(@"D:\WinFsp\", Architecture.Arm64, @"D:\WinFsp\bin\winfsp-a64.dll")]
    [TestCase(@"D:\WinFsp\", Architecture.X86, @"D:\WinFsp\bin\winfsp-x86.dll")]
    public void DllPath_InstallDirAndArchitecture_BinFolderDll(string installDir, Architecture architecture, string expected) =>
        Assert.That(WinFspLibrary.DllPath(installDir, architecture), Is.EqualTo(expected));

    [Test]
    public void Load_NotWindows_WinFspNotInstalledException()
    {
        Assert.That(OperatingSystem.IsWindows(), Is.False, "the shim's tests run on Linux");
        var error = Assert.Throws<WinFspNotInstalledException>(WinFspLibrary.Load);
        Assert.That(error!.Message, Is.EqualTo("WinFsp mounts need Windows"));
    }
}
