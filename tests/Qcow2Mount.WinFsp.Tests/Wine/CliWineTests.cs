using System.Globalization;
using Qcow2Mount.TestSupport;
using Qcow2Mount.TestSupport.Wine;

namespace Qcow2Mount.WinFsp.Tests.Wine;

/// <summary>
/// The real qcow2mount.exe (win-x64 publish) under Wine with the fake winfsp-x64.dll: what a double-click runs
/// (<c>qcow2mount IMAGE</c>) goes through MountHosts, WinFspMountHost, the real DLL loader and the real callback table;
/// the fake's dispatcher drives a script and then holds the volume until <c>qcow2mount unmount</c>, run as a second
/// Wine process, reaches the server through its stop event. The fake cannot show a drive to Windows: the letter is
/// the one the host chose and handed to FspFileSystemSetMountPoint.
/// </summary>
[NonParallelizable]
[Category(TestCategories.Qemu)]
[Category(TestCategories.Slow)]
public sealed class CliWineTests
{
    private const long Size = WinFspWineTests.Size;
    private const string Ok = "0x00000000";
    private const string EndOfFile = "0xC0000011";
    private const string NotFound = "0xC0000034";
    private const string DiskFull = "0xC000007F";
    private const string WriteProtected = "0xC00000A2";
    private const string NotInstalled = "qcow2mount: WinFsp is not installed (get it from https://winfsp.dev)";

    private static readonly TimeSpan ServeTimeout = TimeSpan.FromSeconds(90);

    private static WineWorld World => WineWorldSetUp.World;

    [Test]
    public void DoubleClick_ReadWrite_FirstFreeLetterServesAndUnmountFromSecondProcessFlushes()
    {
        var (image, _) = WinFspWineTests.MakeImages(World, "cli-rw");
        string twin = image + ".twin.qcow2";
        File.Copy(image, twin);
        byte[] expected = WinFspWineTests.RawOf(image);
        string dump = Path.Combine(World.Scratch, "cli-rw.dump");
        string letter = FirstFreeLetter();
        string[] script =
        [
            "volume",
            "security \\ 1024",
            "open 0 \\ 120089 1",
            "list 0 4096",
            "open 1 \\disk.raw 120089 40",
            "open 2 \\missing.raw 120089 0",
            $"readall 1 {Size} 65536 {WinePrefix.WindowsPath(dump)}",
            $"read 1 {Size} 4096",
            $"read 1 {Size - 100} 4096",
            "open 3 \\disk.raw 12019F 40",
            "write 3 0 4096 a1",
            "write 3 70000 5000 b2",
            $"write 3 {Size - 512} 4096 cc",
            $"write 3 {Size - 1536} 8192 dd c",
            $"setsize 3 {Size + 4096}",
            "flush 3",
            "cleanup 3 40",
            "close 3",
            "cleanup 1 0",
            "close 1",
            "cleanup 0 0",
            "close 0",
        ];

        var (mount, again, unmount, report) = MountThenUnmount("cli-rw", [WinePrefix.WindowsPath(image)], script, [letter], againArguments: [WinePrefix.WindowsPath(image)]);

        var problems = new List<string>();
        WinFspWineTests.Want(problems, report, "Create device=WinFsp.Disk", "flags", "0x0001040E", "read-write volume");
        WinFspWineTests.Want(problems, report, "SetMountPoint " + letter, "usercontext", "set", "the first free drive letter, Z: down");
        WinFspWineTests.Want(problems, report, "volume", "total", (((Size + 4095) / 4096) * 4096).ToString(CultureInfo.InvariantCulture));
        WinFspWineTests.Want(problems, report, "security \\", "status", Ok);
        WinFspWineTests.Want(problems, report, "list 0", "names", $"disk.raw:{Size}", "the root lists disk.raw with the virtual size");
        WinFspWineTests.Want(problems, report, "open 1", "size", Size.ToString(CultureInfo.InvariantCulture));
        WinFspWineTests.Want(problems, report, "open 2", "status", NotFound);
        WinFspWineTests.Want(problems, report, "readall 1", "hash", WinFspWineTests.Fnv1a(expected).ToString("X16", CultureInfo.InvariantCulture));
        WinFspWineTests.Want(problems, report, $"read 1 offset={Size}", "status", EndOfFile, "a read at the end");
        WinFspWineTests.Want(problems, report, $"read 1 offset={Size - 100}", "bytes", "100", "a read across the end is clipped");
        WinFspWineTests.Want(problems, report, "write 3 offset=0", "bytes", "4096");
        WinFspWineTests.Want(problems, report, "write 3 offset=70000", "bytes", "5000");
        WinFspWineTests.Want(problems, report, $"write 3 offset={Size - 512}", "status", DiskFull, "a write across the end is refused");
        WinFspWineTests.Want(problems, report, $"write 3 offset={Size - 1536}", "bytes", "1536", "a paging write is cut at the end");
        WinFspWineTests.Want(problems, report, "setsize 3", "status", DiskFull, "the size is fixed");
        WinFspWineTests.Want(problems, report, "flush 3", "status", Ok);
        WinFspWineTests.WantOrder(problems, report, "scenario end", "StopDispatcher", "DispatcherStopped 1", "RemoveMountPoint", "Delete");
        if (report.Lines.Count(l => l.StartsWith("Create ", StringComparison.Ordinal)) != 1)
        {
            problems.Add("the second double-click mounted again");
        }

        QemuTools.QemuIo(twin, "write -P 0xa1 0 4096", "write -P 0xb2 70000 5000", $"write -P 0xdd {Size - 1536} 1536");
        var check = QemuTools.Check(image);
        Assert.Multiple(() =>
        {
            Assert.That(mount.ExitCode, Is.Zero, mount.ToString());
            Assert.That(mount.StandardOutput, Does.Contain($"{letter}\\disk.raw  ({WinePrefix.WindowsPath(image)})"), mount.ToString());
            Assert.That(again!.ExitCode, Is.Zero, "a second double-click shows the mounted image: " + again);
            Assert.That(unmount.ExitCode, Is.Zero, unmount.ToString());
            Assert.That(problems, Is.Empty, report.ToString());
            Assert.That(File.ReadAllBytes(dump), Is.EqualTo(expected), "bytes read through the mount equal qemu-img convert -O raw");
            Assert.That(check.Corruptions + check.Leaks + check.CheckErrors, Is.Zero, check.Output);
            Assert.That(QemuTools.CompareResult(image, twin, "qcow2", "qcow2").ExitCode, Is.Zero, "qemu-img compare with the qemu-io twin");
        });
    }

    [Test]
    public void DoubleClick_ReadOnlyVerbWithVhd_WritesWriteProtectedVhdListedUnmountByImagePathLeavesImageUnchanged()
    {
        var (image, _) = WinFspWineTests.MakeImages(World, "cli-ro");
        byte[] before = File.ReadAllBytes(image);
        string letter = FirstFreeLetter();
        string[] script =
        [
            "open 1 \\disk.raw 12019F 40",
            "open 2 \\disk.raw 120089 40",
            "write 2 0 4096 ee",
            $"setsize 2 {Size}",
            "flush 2",
            "read 2 0 4096",
            "cleanup 2 40",
            "close 2",
            "open 0 \\ 120089 1",
            "list 0 4096",
            "open 3 \\DISK.VHD 120089 40",
            $"read 3 {Size} 4096",
            $"write 3 {Size} 512 00",
        ];

        var (mount, _, unmount, report) = MountThenUnmount("cli-ro", ["--read-only", "--vhd", WinePrefix.WindowsPath(image)], script, ["unmount", WinePrefix.WindowsPath(image)]);

        var problems = new List<string>();
        WinFspWineTests.Want(problems, report, "Create device=WinFsp.Disk", "flags", "0x0001060E", "the read-only volume flag");
        WinFspWineTests.Want(problems, report, "SetMountPoint " + letter, null, null);
        WinFspWineTests.Want(problems, report, "open 1", "status", WriteProtected, "an open for writing");
        WinFspWineTests.Want(problems, report, "write 2", "status", WriteProtected);
        WinFspWineTests.Want(problems, report, "setsize 2", "status", WriteProtected);
        WinFspWineTests.Want(problems, report, "flush 2", "status", Ok);
        WinFspWineTests.Want(problems, report, "read 2", "bytes", "4096");
        WinFspWineTests.Want(problems, report, "list 0", "names", $"disk.raw:{Size},disk.vhd:{Size + 512}", "--vhd shows disk.vhd, 512 bytes longer");
        WinFspWineTests.Want(problems, report, "open 3", "status", Ok, "names compared ignoring case");
        WinFspWineTests.Want(problems, report, $"read 3 offset={Size}", "bytes", "512", "the footer, then the end");
        WinFspWineTests.Want(problems, report, $"write 3 offset={Size}", "status", WriteProtected);
        WinFspWineTests.WantOrder(problems, report, "scenario end", "StopDispatcher", "RemoveMountPoint", "Delete");
        Assert.Multiple(() =>
        {
            Assert.That(mount.ExitCode, Is.Zero, mount.ToString());
            Assert.That(mount.StandardOutput, Does.Contain($"{letter}\\disk.raw  ({WinePrefix.WindowsPath(image)}, read-only)"), mount.ToString());
            Assert.That(unmount.ExitCode, Is.Zero, "unmount by the image's path (the Unmount verb): " + unmount);
            Assert.That(problems, Is.Empty, report.ToString());
            Assert.That(File.ReadAllBytes(image), Is.EqualTo(before), "the image file is unchanged");
        });
    }

    [Test]
    public void DoubleClick_NoWinFsp_OneLineWhereToGetItExit2()
    {
        var (image, _) = WinFspWineTests.MakeImages(World, "cli-nowinfsp");
        try
        {
            World.DeleteWinFspKey();
            var result = World.RunCli([WinePrefix.WindowsPath(image)]);
            AssertOneLineError(result, NotInstalled);
        }
        finally
        {
            World.SetInstallDir(World.InstallDir);
        }
    }

    [Test]
    public void DoubleClick_CorruptImage_OneLineNamingTheProblemNothingMounted()
    {
        var (image, _) = WinFspWineTests.MakeImages(World, "cli-corrupt");
        using (var file = File.OpenHandle(image, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(file, new byte[] { 0, 0, 0, 0, 0, 0x03, 0x00, 0x10 }, 40); // l1_table_offset 0x30010: not cluster-aligned
        }

        byte[] before = File.ReadAllBytes(image);
        var environment = World.FakeEnvironment("cli-corrupt", [], hold: false);
        var result = World.RunCli([WinePrefix.WindowsPath(image)], environment);
        AssertOneLineError(result, null);
        Assert.Multiple(() =>
        {
            Assert.That(result.StandardError, Does.Contain("L1").IgnoreCase, result.ToString());
            Assert.That(FakeReport.Load(World.ReportPath("cli-corrupt")).IndexOf("Create"), Is.EqualTo(-1), "nothing was mounted");
            Assert.That(File.ReadAllBytes(image), Is.EqualTo(before), "the image is unchanged");
        });
    }

    [Test]
    public void DoubleClick_ImageOpenInAnotherProgram_OneLineInUseExit2()
    {
        var (image, _) = WinFspWineTests.MakeImages(World, "cli-inuse");
        using var holder = World.Wine.Start(World.HoldFile, [WinePrefix.WindowsPath(image), "60"]);
        holder.WaitForOutput("held"); // hold_file opened the image without sharing
        var result = World.RunCli([WinePrefix.WindowsPath(image)], World.FakeEnvironment("cli-inuse", [], hold: false));
        AssertOneLineError(result, null);
        Assert.That(result.StandardError, Does.Contain("used by another process"), result.ToString());
    }

    [Test]
    public void DoubleClick_EveryLetterTaken_OneLineNoFreeDriveLetterExit2()
    {
        var (image, _) = WinFspWineTests.MakeImages(World, "cli-noletter");
        string devices = Path.Combine(World.Wine.Path, "dosdevices");
        var added = new List<string>();
        try
        {
            for (char letter = 'd'; letter <= 'z'; letter++)
            {
                string link = Path.Combine(devices, letter + ":");
                if (!Path.Exists(link) && new FileInfo(link).LinkTarget is null)
                {
                    File.CreateSymbolicLink(link, World.Scratch);
                    added.Add(link);
                }
            }

            World.Wine.EndAllPrograms(); // Wine reads the drive links when its server starts

            var result = World.RunCli([WinePrefix.WindowsPath(image)]);
            AssertOneLineError(result, "qcow2mount: no free drive letter (D: to Z: are all in use): name a folder that does not exist yet to mount on, e.g. qcow2mount disk.qcow2 C:\\mnt\\disk");
        }
        finally
        {
            added.ForEach(File.Delete);
            World.Wine.EndAllPrograms();
        }
    }

    private static void AssertOneLineError(WineResult result, string? message)
    {
        string error = result.StandardError.Trim();
        Assert.Multiple(() =>
        {
            Assert.That(result.ExitCode, Is.EqualTo(2), result.ToString());
            Assert.That(error, Does.StartWith("qcow2mount: "), result.ToString());
            Assert.That(error, Does.Not.Contain('\n'), "one line: " + result);
            if (message is not null)
            {
                Assert.That(error, Is.EqualTo(message));
            }
        });
    }

    /// <summary>Z: down to D:, the first letter the prefix has no drive for (WinFsp's order; what the host must pick).</summary>
    private static string FirstFreeLetter()
    {
        string devices = Path.Combine(World.Wine.Path, "dosdevices");
        for (char letter = 'z'; letter >= 'd'; letter--)
        {
            string link = Path.Combine(devices, letter + ":");
            if (!Path.Exists(link) && new FileInfo(link).LinkTarget is null)
            {
                return char.ToUpperInvariant(letter) + ":";
            }
        }

        throw new InvalidOperationException("the prefix has every drive letter");
    }

    /// <summary>
    /// Starts <c>qcow2mount MOUNTARGS</c> with the script, waits until the fake has run it, optionally runs
    /// <c>qcow2mount AGAINARGS</c> (a second double-click) and then <c>qcow2mount UNMOUNTARGS</c> (["Q:"] means
    /// <c>unmount Q:</c>), and waits for the mount to exit. A mount that hangs is killed and fails the test.
    /// </summary>
    /// <summary>
    /// Ctrl+C in the mount's console (Wine turns SIGINT to a Windows process into CTRL_C_EVENT for its console
    /// handlers): the mount stops as <c>unmount</c> stops it, flushing writes the script never flushed, and its record
    /// goes, so <c>unmount IMAGE</c> afterwards finds nothing to stop.
    /// </summary>
    [Test]
    public void DoubleClick_CtrlC_UnflushedWritesReachImageMountEndsInOrder()
    {
        const string name = "cli-ctrlc";
        var (image, _) = WinFspWineTests.MakeImages(World, name);
        string twin = image + ".twin.qcow2";
        File.Copy(image, twin);
        string[] script =
        [
            "open 3 \\disk.raw 12019F 40",
            "write 3 0 65536 5a",
            "write 3 3000000 5000 a5",
            "cleanup 3 40",
            "close 3",
        ];
        var environment = World.FakeEnvironment(name, script, hold: true);
        using (var mount = World.StartCli([WinePrefix.WindowsPath(image)], environment))
        {
            mount.WaitUntil(() => FakeReport.Load(World.ReportPath(name)).IndexOf("scenario end") >= 0, "the fake's report of the script's end", ServeTimeout);

            // The pid is the Windows process's own (WinePrefix.Start), so SIGINT reaches it as CTRL_C_EVENT.
            mount.Signal("INT");
            if (mount.TryWaitForExit(ServeTimeout) is null)
            {
                Assert.Fail("the mount did not end after Ctrl+C:\n" + FakeReport.Load(World.ReportPath(name)));
            }
        }

        var report = FakeReport.Load(World.ReportPath(name));
        var problems = new List<string>();
        WinFspWineTests.Want(problems, report, "write 3 offset=0", "bytes", "65536");
        WinFspWineTests.WantOrder(problems, report, "scenario end", "StopDispatcher", "DispatcherStopped 1", "RemoveMountPoint", "Delete");
        var after = World.RunCli(["unmount", WinePrefix.WindowsPath(image)]);
        QemuTools.QemuIo(twin, "write -P 0x5a 0 65536", "write -P 0xa5 3000000 5000");
        var check = QemuTools.Check(image);
        Assert.Multiple(() =>
        {
            Assert.That(problems, Is.Empty, report.ToString());
            Assert.That(check.Corruptions + check.Leaks + check.CheckErrors, Is.Zero, check.Output);
            Assert.That(QemuTools.CompareResult(image, twin, "qcow2", "qcow2").ExitCode, Is.Zero, "the unflushed writes reached the image: qemu-img compare with the qemu-io twin");
            Assert.That(after.ExitCode, Is.Not.Zero, "the mount's record is gone: " + after);
        });
    }

    private static (WineResult Mount, WineResult? Again, WineResult Unmount, FakeReport Report) MountThenUnmount(
        string name, string[] mountArguments, string[] script, string[] unmountArguments, string[]? againArguments = null)
    {
        var environment = World.FakeEnvironment(name, script, hold: true);
        using var mount = World.StartCli(mountArguments, environment);
        WineResult? again = null;
        mount.WaitUntil(() => FakeReport.Load(World.ReportPath(name)).IndexOf("scenario end") >= 0, "the fake's report of the script's end", ServeTimeout);
        if (againArguments is not null)
        {
            again = World.RunCli(againArguments);
        }

        var unmount = World.RunCli(unmountArguments.Length == 1 ? ["unmount", unmountArguments[0]] : unmountArguments);
        var exit = mount.TryWaitForExit(ServeTimeout);
        if (exit is null)
        {
            Assert.Fail("the mount did not exit after unmount:\n" + FakeReport.Load(World.ReportPath(name)));
        }

        return (new WineResult(exit!), again, unmount, FakeReport.Load(World.ReportPath(name)));
    }
}
