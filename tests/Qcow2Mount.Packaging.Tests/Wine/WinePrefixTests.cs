using Qcow2Mount.Packaging.Tests.Support;
using Qcow2Mount.TestSupport;
using Qcow2Mount.TestSupport.Wine;

namespace Qcow2Mount.Packaging.Tests.Wine;

/// <summary>The shared Wine helper (TestSupport/Wine) on the real Wine: running programs, timeouts, the registry views, drives.</summary>
[TestFixture]
[NonParallelizable]
internal sealed class WinePrefixTests
{
    private const string TestKey = @"HKLM\SOFTWARE\Qcow2MountWineTest";

    private static WinePrefix Wine => SharedWine.Prefix;

    [TearDown]
    public void CleanUp()
    {
        Wine.DeleteKey(TestKey, WineRegistryView.Registry32);
        Wine.DeleteKey(TestKey, WineRegistryView.Registry64);
    }

    [Test]
    public void Run_WindowsCommand_ReturnsItsOutputAndExitCode()
    {
        var echo = Wine.Run("cmd", ["/c", "echo hello from wine"]);
        var fail = Wine.Run("cmd", ["/c", "exit 3"]);

        Assert.Multiple(() =>
        {
            Assert.That(echo.ExitCode, Is.Zero);
            Assert.That(echo.StandardOutput.Trim(), Is.EqualTo("hello from wine"));
            Assert.That(echo.StandardError, Is.Empty, "WINEDEBUG=-all keeps Wine quiet");
            Assert.That(fail.ExitCode, Is.EqualTo(3));
        });
    }

    [Test]
    public void Run_AnyProgram_StartsInDriveC()
    {
        // Not in the test's folder, where cmd would find (and Wine would run) the Linux build of qcow2mount first.
        var cd = Wine.Run("cmd", ["/c", "cd"]);

        Assert.That(cd.StandardOutput.Trim(), Is.EqualTo(@"C:\"));
    }

    [Test]
    public void Create_UserFolders_LinkIntoThePrefixsOwnHome()
    {
        // Wine links Documents, Desktop, … to HOME: with the real HOME, Windows programs would write into it, and a walk
        // of drive_c would wander through it.
        string users = Path.Combine(Wine.DriveC, "users");
        var links = Directory.GetDirectories(users, "*", new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 1, AttributesToSkip = 0 })
            .Select(d => new DirectoryInfo(d).LinkTarget)
            .OfType<string>()
            .ToArray();

        Assert.That(links, Is.Not.Empty.And.All.EqualTo(Wine.Home));
    }

    [Test]
    public void Run_ProgramLeftRunningInTheBackground_DoesNotHoldTheRun()
    {
        // A program started in the background keeps whatever output the run had: with pipes, reading them to the end
        // waited for it (a shell verb that mounts would hold a test until the hang timeout).
        var run = Task.Run(() => Wine.Run("cmd", ["/c", "start", "ping", "-n", "60", "127.0.0.1"]));
        try
        {
            Assert.That(run.Wait(TimeSpan.FromSeconds(60)), Is.True, "the run returned while ping still runs");
            Assert.That(run.Result.ExitCode, Is.Zero);
        }
        finally
        {
            Wine.EndAllPrograms();
        }
    }

    [Test]
    public void Run_ProgramThatOutlivesItsTimeout_IsKilledAndThePrefixStaysUsable()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();

        Assert.Throws<ExternalCommandException>(() => Wine.Run("ping", ["-n", "120", "127.0.0.1"], TimeSpan.FromSeconds(3)));

        Assert.Multiple(() =>
        {
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(60)));
            Assert.That(Wine.Run("cmd", ["/c", "echo still here"]).StandardOutput.Trim(), Is.EqualTo("still here"));
        });
    }

    [Test]
    public void SetValue_32BitView_IsNotSeenIn64BitView()
    {
        Wine.SetValue(TestKey, "InstallDir", "REG_SZ", @"C:\x86 folder\", WineRegistryView.Registry32);
        Wine.SetValue(TestKey, "", "REG_SZ", "default value", WineRegistryView.Registry32);

        var key32 = Wine.QueryKey(TestKey, WineRegistryView.Registry32);
        var wow = Wine.QueryKey(@"HKLM\SOFTWARE\WOW6432Node\Qcow2MountWineTest");
        Assert.Multiple(() =>
        {
            Assert.That(key32?["InstallDir"], Is.EqualTo(@"C:\x86 folder\"));
            Assert.That(key32?[""], Is.EqualTo("default value"));
            Assert.That(key32?.Values.Single(v => v.Name == "InstallDir").Type, Is.EqualTo("REG_SZ"));
            Assert.That(wow?["InstallDir"], Is.EqualTo(@"C:\x86 folder\"), "the 32-bit view is WOW6432Node");
            Assert.That(Wine.QueryKey(TestKey, WineRegistryView.Registry64), Is.Null);
        });
    }

    [Test]
    public void QueryKey_KeyWithSubkeys_ListsThem()
    {
        Wine.SetValue(TestKey + @"\One", "v", "REG_DWORD", "7");
        Wine.SetValue(TestKey + @"\Two", "", "REG_SZ", "");

        var key = Wine.QueryKey(TestKey);

        Assert.Multiple(() =>
        {
            Assert.That(key?.Subkeys, Is.EquivalentTo(new[] { @"HKEY_LOCAL_MACHINE\SOFTWARE\Qcow2MountWineTest\One", @"HKEY_LOCAL_MACHINE\SOFTWARE\Qcow2MountWineTest\Two" }));
            Assert.That(Wine.QueryKey(TestKey + @"\One")?["v"], Is.EqualTo("0x7"));
            Assert.That(Wine.QueryKey(TestKey + @"\Two")?[""], Is.Empty);
        });
    }

    [Test]
    public void MapDrive_Folder_IsReadableThroughTheLetter()
    {
        using var dir = new TempDir("wine-drive");
        File.WriteAllText(dir.File("hello.txt"), "from a mapped drive");

        Wine.MapDrive('q', dir.Path);
        try
        {
            var type = Wine.Run("cmd", ["/c", @"type Q:\hello.txt"]);

            Assert.That(type.StandardOutput.Trim(), Is.EqualTo("from a mapped drive"), type.ToString());
        }
        finally
        {
            Wine.RemoveDrive('q');
        }

        Assert.That(Wine.Run("cmd", ["/c", @"type Q:\hello.txt"]).ExitCode, Is.Not.Zero, "the letter is gone again");
    }

    [Test]
    public void WindowsPathAndUnixPath_AreInverse()
    {
        Assert.Multiple(() =>
        {
            Assert.That(WinePrefix.WindowsPath("/tmp/a b/c.qcow2"), Is.EqualTo(@"Z:\tmp\a b\c.qcow2"));
            Assert.That(Wine.UnixPath(@"Z:\tmp\a b\c.qcow2"), Is.EqualTo("/tmp/a b/c.qcow2"));
            Assert.That(Wine.UnixPath(@"C:\Program Files\Qcow2Mount\"), Is.EqualTo(Path.Combine(Wine.DriveC, "Program Files/Qcow2Mount/")));
        });
    }
}
