using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Packaging.Tests.WindowsCli;

/// <summary>
/// The Windows build's host behaviour under Wine, beside a small Windows program (holder.c, built with mingw) that
/// holds an image open. Image exclusion on Windows is by share modes, which Wine enforces between Windows processes
/// (wineserver), so these tests are meaningful there; Linux processes (qemu-io) do not see Wine's share modes. Also
/// what Wine does not implement, pinned so that a Wine that starts to implement it is noticed.
/// </summary>
[TestFixture]
[NonParallelizable]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
internal sealed class WineHostBehaviourTests
{
    private string _root = null!;
    private string _holder = null!;

    [OneTimeSetUp]
    public void BuildHolder()
    {
        RequiredTools.Require("qemu-img", "wine", "x86_64-w64-mingw32-gcc");

        _root = WindowsCli.NewScratch("winhost");
        _holder = Path.Combine(_root, "holder.exe");
        string source = Path.Combine(Support.Repository.Root, "tests", "Qcow2Mount.Packaging.Tests", "WindowsCli", "holder.c");
        ProcessRunner.Run("x86_64-w64-mingw32-gcc", ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-o", _holder, source]);
    }

    [OneTimeTearDown]
    public void RemoveScratch() => Directory.Delete(_root, recursive: true);

    // Who holds the image, which verb of ours then runs on it (resize writes with a lock, check reads with a lock,
    // info reads without one), and whether ours is refused as "in use".
    [TestCase("write", "resize", true)]
    [TestCase("write", "check", true)]
    [TestCase("write", "info", false)]
    [TestCase("read-locked", "resize", true)]
    [TestCase("read-locked", "check", false)]
    [TestCase("read-shared", "resize", false)]
    [TestCase("read-shared", "check", false)]
    public void Verb_ImageHeldByAnotherWindowsProgram_RefusedOnlyWhenTheSharingConflicts(string holderMode, string verb, bool refused)
    {
        string image = Path.Combine(_root, $"held-{holderMode}-{verb}.qcow2");
        QemuTools.Create(image, 16 << 20);
        string[] arguments = verb == "resize" ? ["resize", Path.GetFileName(image), "+1M"] : [verb, Path.GetFileName(image)];

        ProcessResult run;
        using (var holder = Hold(image, holderMode))
        {
            run = WindowsCli.RunWindows(_root, arguments);
            holder.CloseInput();
            holder.WaitForExit();
        }

        if (refused)
        {
            Assert.Multiple(() =>
            {
                Assert.That(run.ExitCode, Is.Not.Zero, run.ToString());
                Assert.That(run.StandardError.TrimEnd().Split('\n'), Has.Length.EqualTo(1), run.ToString());
                Assert.That(run.StandardError, Does.Contain("in use by another process"), run.ToString());
                Assert.That(QemuTools.Info(image).GetProperty("virtual-size").GetInt64(), Is.EqualTo(16 << 20), "the image is unchanged");
            });
        }
        else
        {
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
        }
    }

    [Test]
    public void Resize_AfterTheHolderLetGo_Succeeds()
    {
        string image = Path.Combine(_root, "released.qcow2");
        QemuTools.Create(image, 16 << 20);
        using (var holder = Hold(image, "write"))
        {
            holder.CloseInput();
            holder.WaitForExit();
        }

        var run = WindowsCli.RunWindows(_root, "resize", "released.qcow2", "+1M");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            Assert.That(QemuTools.Info(image).GetProperty("virtual-size").GetInt64(), Is.EqualTo(17 << 20));
        });
    }

    /// <summary>
    /// Wine answers GetCompressedFileSizeW with the file's length, not its allocation (Wine 8.0), so the Windows
    /// build's "actual-size" of a sparse file is its length under Wine, while the Linux build reports st_blocks. On
    /// NTFS it would be the allocation; only real Windows can show that.
    /// </summary>
    [Test]
    public void Info_SparseRawFileUnderWine_ActualSizeIsTheLength()
    {
        string image = Path.Combine(_root, "sparse.raw");
        using (var file = File.Create(image))
        {
            file.SetLength(64 << 20);
            file.Write(new byte[4096].Select(_ => (byte)0x5A).ToArray());
        }

        var windows = WindowsCli.RunWindows(_root, "info", "-f", "raw", "--output=json", "sparse.raw");
        var linux = WindowsCli.RunLinux(_root, "info", "-f", "raw", "--output=json", "sparse.raw");

        Assert.Multiple(() =>
        {
            Assert.That(windows.StandardOutput, Does.Contain($"\"actual-size\": {64 << 20}"), windows.ToString());
            Assert.That(linux.StandardOutput, Does.Not.Contain($"\"actual-size\": {64 << 20}"), linux.ToString());
        });
    }

    /// <summary>Starts the holder on <paramref name="image"/> and waits until it has the file open.</summary>
    private BackgroundProcess Hold(string image, string mode)
    {
        var holder = WindowsCli.StartWindows(_holder, _root, [Path.GetFileName(image), mode]);
        try
        {
            holder.WaitForOutput("held");
        }
        catch
        {
            holder.Dispose();
            throw;
        }

        return holder;
    }
}
