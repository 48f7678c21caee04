using Qcow2Mount.Packaging.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Packaging.Tests.Deb;

/// <summary>
/// The .deb that <c>build.ps1 package</c> builds, installed on this machine with dpkg -i: the double-click on a .qcow2
/// (the desktop entry as the default handler of application/x-qemu-disk, its Exec line mounting a real image under
/// $XDG_RUNTIME_DIR and opening the folder). Removed after the last test. xdg-open is a stand-in that records its
/// argument: there is no desktop session here.
/// </summary>
[TestFixture]
[NonParallelizable]
[Category(TestCategories.Mount)]
[Category(TestCategories.Slow)]
internal sealed class DebInstalledTests
{
    private const string MimeType = "application/x-qemu-disk";

    private DesktopSession _session = null!;

    [OneTimeSetUp]
    public void Install()
    {
        _ = PackageArtifacts.Deb;
        DebPackage.RequireNotInstalled();
        DebPackage.Install();
    }

    [OneTimeTearDown]
    public void Remove()
    {
        if (DebPackage.IsInstalled())
        {
            DebPackage.Remove();
        }
    }

    [SetUp]
    public void StartSession()
    {
        _session = new DesktopSession("deb", mountPoint => ProcessRunner.Capture("/usr/bin/qcow2mount", ["unmount", mountPoint]));
        _session.Environment["PATH"] = _session.Environment["PATH"]!.Split(':')[0] + ":/usr/bin:/bin";
    }

    [TearDown]
    public void EndSession() => _session.Dispose();

    [Test]
    public void Package_HoldsTheProgramTheDesktopEntryAndTheIconAtTheProjectVersion()
    {
        string version = ProcessRunner.Run("dpkg-deb", ["-f", PackageArtifacts.Deb, "Version"]).StandardOutput.Trim();

        Assert.Multiple(() =>
        {
            Assert.That(version, Is.EqualTo(PackageArtifacts.ProjectVersion.Replace('-', '~')));
            Assert.That(DebPackage.Paths(), Is.SupersetOf(new[] { "/usr/bin/qcow2mount", DebPackage.DesktopFile, "/usr/share/icons/hicolor/scalable/apps/qcow2mount.svg" }));
        });
    }

    [Test]
    public void Install_MakesTheDesktopEntryTheDefaultForQcow2Files()
    {
        string image = _session.QemuImage("disk.qcow2");

        Assert.Multiple(() =>
        {
            // shared-mime-info (Debian 12: 2.2) knows *.qcow2 and the QFI magic as application/x-qemu-disk: no MIME XML of our own.
            Assert.That(ProcessRunner.Run("xdg-mime", ["query", "filetype", image]).StandardOutput.Trim(), Is.EqualTo(MimeType));
            Assert.That(DebPackage.DefaultHandler(MimeType), Is.EqualTo("qcow2mount.desktop"));
            Assert.That(ProcessRunner.Capture("desktop-file-validate", [DebPackage.DesktopFile]).ExitCode, Is.Zero);
        });
    }

    [Test]
    public void DesktopEntry_ExecLine_MountsTheImageOpensTheFolderAndASecondOpenOnlyOpensIt()
    {
        string image = _session.QemuImage("disk.qcow2");
        string[] exec = DesktopEntry.ExecFor(DesktopEntry.Read(DebPackage.DesktopFile)["Desktop Entry", "Exec"], image);
        string folder = Path.Combine(_session.MountRoot, "disk");

        var first = Run(exec);
        var second = Run(exec);

        Assert.That(first.ExitCode, Is.Zero, first.ToString());
        Assert.Multiple(() =>
        {
            Assert.That(second.ExitCode, Is.Zero, second.ToString());
            Assert.That(Mounts.Under(_session.Root).Select(m => (m.MountPoint, m.Type, m.Source)), Is.EqualTo(new[] { (folder, "fuse.qcow2mount", image) }));
            Assert.That(Mounts.Under(_session.Root).Single().Options.Split(','), Does.Contain("rw"));
            Assert.That(_session.Opened, Is.EqualTo(new[] { folder, folder }));
            Assert.That(Checksum.Sha256OfFile(Path.Combine(folder, "disk.raw")), Is.EqualTo(_session.RawSha256(image)));
        });

        var unmount = ProcessRunner.Capture("/usr/bin/qcow2mount", ["unmount", folder]);
        Assert.Multiple(() =>
        {
            Assert.That(unmount.ExitCode, Is.Zero, unmount.ToString());
            Assert.That(Mounts.Under(_session.Root), Is.Empty);
            Assert.That(ProcessRunner.Capture("qemu-img", ["check", image]).ExitCode, Is.Zero, "the image is consistent after the unmount");
        });
    }

    [Test]
    public void DesktopEntry_ReadOnlyAction_MountsTheImageReadOnly()
    {
        string image = _session.QemuImage("disk.qcow2");
        string[] exec = DesktopEntry.ExecFor(DesktopEntry.Read(DebPackage.DesktopFile)["Desktop Action read-only", "Exec"], image);

        var run = Run(exec);

        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        Assert.That(Mounts.Under(_session.Root).Single().Options.Split(','), Does.Contain("ro"));
    }

    /// <summary>
    /// The installed server (NativeAOT) takes the stop signals on its serving thread from a signalfd, not through the
    /// runtime, which starts a thread for every signal: each of its threads blocks SIGHUP, SIGINT and SIGTERM (a thread
    /// that does not would be handed the signal by the kernel), and a SIGTERM still ends it cleanly.
    /// </summary>
    [Test]
    public void InstalledServer_EveryThreadLeavesTheStopSignalsToTheServingThread_SigtermUnmountsCleanly()
    {
        const ulong stopSignals = (1UL << (1 - 1)) | (1UL << (2 - 1)) | (1UL << (15 - 1));
        string image = _session.QemuImage("disk.qcow2");
        string folder = Directory.CreateDirectory(Path.Combine(_session.Root, "mnt")).FullName;
        var mount = ProcessRunner.Capture("/usr/bin/qcow2mount", [image, folder]);
        Assert.That(mount.ExitCode, Is.Zero, mount.ToString());
        int pid = ServerOf(folder);

        // The finalizer thread blocks them once the mount serves, which can be a moment after the command returned.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        List<string> taking;
        while ((taking = ThreadsNotBlocking(pid, stopSignals)).Count > 0 && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.Sleep(20);
        }

        Assert.That(taking, Is.Empty, "threads of the server that would take a stop signal themselves");
        Assert.That(ProcessRunner.Capture("kill", ["-TERM", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]).ExitCode, Is.Zero);
        clock.Restart();
        while (IsAlive(pid) && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            Thread.Sleep(20);
        }

        Assert.Multiple(() =>
        {
            Assert.That(IsAlive(pid), Is.False, "the server did not exit on SIGTERM");
            Assert.That(Mounts.Under(_session.Root), Is.Empty);
            Assert.That(ProcessRunner.Capture("qemu-img", ["check", image]).ExitCode, Is.Zero, "the image is consistent after the stop");
        });
    }

    /// <summary>The installed program's process whose command line names <paramref name="folder"/>: the background server.</summary>
    private static int ServerOf(string folder)
    {
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
            {
                continue;
            }

            try
            {
                if (new FileInfo(Path.Combine(dir, "exe")).LinkTarget == "/usr/bin/qcow2mount"
                    && File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0').Contains(folder))
                {
                    return pid;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // gone meanwhile, or not ours to read
            }
        }

        throw new AssertionException($"no server of {folder} among the processes");
    }

    /// <summary>The names of the process's threads whose blocked-signal mask (SigBlk) lacks any of <paramref name="signals"/>.</summary>
    private static List<string> ThreadsNotBlocking(int pid, ulong signals)
    {
        var names = new List<string>();
        foreach (string task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                string? blocked = File.ReadLines(Path.Combine(task, "status")).FirstOrDefault(l => l.StartsWith("SigBlk:", StringComparison.Ordinal));
                if (blocked is null || (ulong.Parse(blocked["SigBlk:".Length..].Trim(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture) & signals) != signals)
                {
                    names.Add(File.ReadAllText(Path.Combine(task, "comm")).Trim());
                }
            }
            catch (IOException)
            {
                // a thread that ended meanwhile takes no signal
            }
        }

        return names;
    }

    /// <summary>The process exists and is not a zombie (the server is reparented to init, which may reap it late).</summary>
    private static bool IsAlive(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Runs an Exec line as the desktop would: the program looked up on the session's PATH (the installed one).</summary>
    private ProcessResult Run(string[] exec)
    {
        string program = _session.Environment["PATH"]!.Split(':').Select(d => Path.Combine(d, exec[0])).First(File.Exists);
        Assert.That(program, Is.EqualTo("/usr/bin/qcow2mount"), "the installed program");
        return ProcessRunner.Capture(program, exec[1..], _session.Environment, TimeSpan.FromMinutes(2));
    }
}
