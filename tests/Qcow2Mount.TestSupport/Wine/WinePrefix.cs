namespace Qcow2Mount.TestSupport.Wine;

/// <summary>
/// A Wine prefix of its own for tests that run Windows programs on Linux (the win-x64 build of qcow2mount, msiexec, reg).
/// Quiet and unable to hang a run (facts: shared/docs/winfsp-notes.md §12): WINEDEBUG=-all, winemenubuilder disabled
/// (nothing is written into the host's menus), winedbg disabled (a crash ends the process instead of waiting in the
/// debugger), no DISPLAY (headless), a HOME of its own (Wine links Documents, Desktop, … to HOME: Windows programs
/// never see or write the real one), and a timeout on every process, after which the prefix's wineserver is killed too.
/// One wineserver stays up between programs (up to a minute idle), so a program starts in ~0.5 s instead of ~2.5 s.
/// <see cref="Dispose"/> kills that wineserver (and every Windows process of the prefix) and deletes the prefix.
/// </summary>
public sealed class WinePrefix : IDisposable
{
    /// <summary>Longest run of one Windows program unless the caller says otherwise (an msiexec install takes ~1-5 s).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    /// <summary>Making a new prefix takes ~10-15 s (and ~700 MB); allow for a loaded machine.</summary>
    private static readonly TimeSpan CreateTimeout = TimeSpan.FromMinutes(4);

    private static readonly TimeSpan ServerTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The wineserver stays this long after the last Windows program ends (a warm start costs ~0.5 s, a cold one ~2.5 s),
    /// then ends with the prefix's service processes, so a test run that dies before Dispose leaves nothing running.
    /// </summary>
    private const string KeepServer = "-p60";

    private static readonly Lazy<bool> Installed = new(RequireWine, LazyThreadSafetyMode.ExecutionAndPublication);

    private WinePrefix(string path)
    {
        Path = path;
    }

    /// <summary>The prefix folder (WINEPREFIX).</summary>
    public string Path { get; }

    /// <summary>The folder Windows programs in this prefix see as C:\.</summary>
    public string DriveC => System.IO.Path.Combine(Path, "drive_c");

    /// <summary>HOME for Wine: beside the prefix (PREFIX.home), where the user folders of C:\users\NAME link to.</summary>
    public string Home => Path + ".home";

    /// <summary>
    /// Makes a new 64-bit prefix in <paramref name="path"/> (which must not exist yet or be empty) and starts its
    /// wineserver. Fails, naming the package, when wine is missing.
    /// </summary>
    public static WinePrefix Create(string path)
    {
        _ = Installed.Value;
        Directory.CreateDirectory(path);
        if (Directory.EnumerateFileSystemEntries(path).Any())
        {
            throw new InvalidOperationException($"{path} is not empty; a test prefix starts from nothing");
        }

        var prefix = new WinePrefix(System.IO.Path.GetFullPath(path));
        Directory.CreateDirectory(prefix.Home);
        try
        {
            prefix.Server(KeepServer); // one server for every program this prefix runs
            prefix.Run("wineboot", ["--init"], CreateTimeout).ThrowIfFailed();
            return prefix;
        }
        catch
        {
            prefix.Dispose();
            throw;
        }
    }

    /// <summary>"Z:\dir\file" for a Linux path: Wine maps Z: to the host's root.</summary>
    public static string WindowsPath(string unixPath) => "Z:" + System.IO.Path.GetFullPath(unixPath).Replace('/', '\\');

    /// <summary>The Linux path of a C:\ or Z:\ path of this prefix.</summary>
    public string UnixPath(string windowsPath)
    {
        string rest = windowsPath.Length > 2 ? windowsPath[2..].Replace('\\', '/').TrimStart('/') : string.Empty;
        return char.ToUpperInvariant(windowsPath[0]) switch
        {
            'C' when windowsPath[1] == ':' => System.IO.Path.Combine(DriveC, rest),
            'Z' when windowsPath[1] == ':' => "/" + rest,
            _ => throw new ArgumentException($"'{windowsPath}' is not on C: or Z:", nameof(windowsPath)),
        };
    }

    /// <summary>
    /// Runs a Windows program (<c>wine PROGRAM ARGS</c>) and waits for it. <paramref name="environment"/> adds to or
    /// overrides the prefix's settings (e.g. WINEDEBUG=<see cref="WineProcessTrace.Channel"/>). After
    /// <paramref name="timeout"/> the program and the prefix's wineserver are killed and this throws. The working
    /// folder is <paramref name="workingDirectory"/> (a Linux path), by default C:\ (cmd looks for programs there
    /// first; the test's folder may hold a Linux qcow2mount), or the prefix folder while wineboot is still making C:\.
    /// </summary>
    public WineResult Run(string program, IReadOnlyList<string> arguments, TimeSpan? timeout = null, IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        // The output goes to files, not pipes: a program the run starts in the background (start FILE, a mount) would
        // hold a pipe open after the run ends, and reading to its end would then wait for that program.
        string output = OutputStem();
        workingDirectory ??= Directory.Exists(DriveC) ? DriveC : Path;
        try
        {
            var result = ProcessRunner.Capture(
                "sh",
                ["-c", "cd \"$1\" || exit 125; shift; exec wine \"$@\" </dev/null >\"$0.out\" 2>\"$0.err\"", output, workingDirectory, program, .. arguments],
                Environment(environment),
                timeout ?? DefaultTimeout);
            return new WineResult(result with
            {
                CommandLine = ProcessRunner.FormatCommandLine("wine", [program, .. arguments]),
                StandardOutput = ReadAndDelete(output + ".out"),
                StandardError = ReadAndDelete(output + ".err"),
            });
        }
        catch (ExternalCommandException)
        {
            EndAllPrograms();
            throw;
        }
        finally
        {
            File.Delete(output + ".out");
            File.Delete(output + ".err");
        }
    }

    /// <summary>
    /// Ends every Windows program of the prefix (e.g. one a shell verb started in the background) and starts a new
    /// wineserver, which reads the prefix's drive links (dosdevices) again; the prefix stays usable.
    /// </summary>
    public void EndAllPrograms()
    {
        Server("-k");
        Server(KeepServer);
    }

    /// <summary>
    /// Starts a Windows program in the background (<c>wine PROGRAM ARGS</c>, a mount that serves until unmounted, a
    /// program that holds a file) with the prefix's settings, in <paramref name="workingDirectory"/> (default C:\).
    /// Its stdin is a pipe; its output goes to files in the prefix (Wine's service processes would hold pipes open),
    /// read back by <see cref="BackgroundProcess.StandardOutput"/>. <see cref="BackgroundProcess.Id"/> is the Windows
    /// program's own pid, so SIGINT reaches it as CTRL_C_EVENT (facts: shared/docs/winfsp-notes.md).
    /// </summary>
    public BackgroundProcess Start(string program, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null) =>
        BackgroundProcess.Start("wine", [program, .. arguments], Environment(environment), workingDirectory ?? DriveC, OutputStem());

    /// <summary>A registry key's values and subkeys (<c>reg query</c>), or null when the key does not exist.</summary>
    public WineRegistryKey? QueryKey(string key, WineRegistryView view = WineRegistryView.Registry64)
    {
        var result = Run("reg", ["query", key, ViewSwitch(view)]);
        return result.ExitCode == 0 ? WineRegistryKey.Parse(key, result.StandardOutput) : null;
    }

    /// <summary>
    /// A key and everything below it in one <c>reg query KEY /s</c> (one program start instead of one per key), keyed by
    /// the path below <paramref name="key"/> ("" = the key itself); empty when the key does not exist.
    /// </summary>
    public IReadOnlyDictionary<string, WineRegistryKey> QueryTree(string key, WineRegistryView view = WineRegistryView.Registry64)
    {
        var result = Run("reg", ["query", key, "/s", ViewSwitch(view)]);
        return result.ExitCode == 0 ? WineRegistryKey.ParseTree(key, result.StandardOutput) : new Dictionary<string, WineRegistryKey>();
    }

    /// <summary>Sets one value (<c>reg add KEY /v NAME /t TYPE /d DATA /f</c>); <paramref name="name"/> "" is the default value.</summary>
    public void SetValue(string key, string name, string type, string data, WineRegistryView view = WineRegistryView.Registry64)
    {
        string[] which = name.Length == 0 ? ["/ve"] : ["/v", name];
        Run("reg", ["add", key, .. which, "/t", type, "/d", data, "/f", ViewSwitch(view)]).ThrowIfFailed();
    }

    /// <summary>Deletes a key and everything below it; a missing key is fine.</summary>
    public void DeleteKey(string key, WineRegistryView view = WineRegistryView.Registry64)
    {
        if (QueryKey(key, view) is not null)
        {
            Run("reg", ["delete", key, "/f", ViewSwitch(view)]).ThrowIfFailed();
        }
    }

    /// <summary>Shows <paramref name="unixDirectory"/> to Windows programs as drive <paramref name="letter"/>: (a dosdevices link).</summary>
    public void MapDrive(char letter, string unixDirectory)
    {
        RemoveDrive(letter);
        File.CreateSymbolicLink(DriveLink(letter), System.IO.Path.GetFullPath(unixDirectory));
    }

    /// <summary>
    /// Takes drive <paramref name="letter"/>: away; without Z: (the host's whole file system) a Linux-only path fails in a
    /// Windows program the way it would on Windows.
    /// </summary>
    public void RemoveDrive(char letter)
    {
        string link = DriveLink(letter);
        if (new FileInfo(link).LinkTarget is not null || File.Exists(link))
        {
            File.Delete(link);
        }
    }

    /// <summary>Kills every Windows process of the prefix and its wineserver, then deletes the prefix.</summary>
    public void Dispose()
    {
        try
        {
            Server("-k");
        }
        catch (ExternalCommandException)
        {
            // A server that will not die is killed with its prefix folder gone; nothing else depends on it.
        }

        foreach (string folder in new[] { Path, Home })
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // A file still held by a dying process: the scratch folder's owner cleans up.
            }
        }
    }

    private string OutputStem() => System.IO.Path.Combine(Path, $"run-{Guid.NewGuid():N}");

    private string DriveLink(char letter) => System.IO.Path.Combine(Path, "dosdevices", char.ToLowerInvariant(letter) + ":");

    private static string ViewSwitch(WineRegistryView view) => view == WineRegistryView.Registry32 ? "/reg:32" : "/reg:64";

    private Dictionary<string, string?> Environment(IReadOnlyDictionary<string, string?>? extra)
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["WINEPREFIX"] = Path,
            ["HOME"] = Home,
            ["XDG_CONFIG_HOME"] = null,
            ["XDG_DATA_HOME"] = null,
            ["XDG_CACHE_HOME"] = null,
            ["WINEDEBUG"] = "-all",
            ["WINEDLLOVERRIDES"] = "winemenubuilder.exe=d;winedbg.exe=d",
            ["DISPLAY"] = null,
            ["WAYLAND_DISPLAY"] = null,
        };
        foreach (var (name, value) in extra ?? new Dictionary<string, string?>())
        {
            environment[name] = value;
        }

        return environment;
    }

    /// <summary><c>wineserver -pN</c> (start, stay N s after the last program) or <c>-k</c> (kill). The server does not get our pipes (it outlives the call).</summary>
    private void Server(string option)
    {
        var result = ProcessRunner.Capture("sh", ["-c", "exec wineserver \"$0\" </dev/null >/dev/null 2>&1", option], Environment(null), ServerTimeout);
        // -k with no server running exits 1: that is the state -k is for.
        if (result.ExitCode != 0 && option != "-k")
        {
            throw new ExternalCommandException($"wineserver {option} failed: {result}");
        }
    }

    private static string ReadAndDelete(string file)
    {
        string text = File.Exists(file) ? File.ReadAllText(file) : string.Empty;
        File.Delete(file);
        return text;
    }

    private static bool RequireWine()
    {
        RequiredTools.Require("wine", "wineserver");
        return true;
    }
}
