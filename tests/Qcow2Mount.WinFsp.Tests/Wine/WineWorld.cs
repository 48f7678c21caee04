using System.Diagnostics;
using Qcow2Mount.TestSupport;
using Qcow2Mount.TestSupport.Wine;

namespace Qcow2Mount.WinFsp.Tests.Wine;

/// <summary>
/// Everything the Wine tests share, made once per run: the fake winfsp-x64.dll compiled with mingw into a fake WinFsp
/// install folder (<c>InstallDir\bin</c>) and the small hold_file.exe, the driver and the qcow2mount CLI published
/// for win-x64 (self-contained, no AOT), and a private Wine prefix whose registry names that folder as WinFsp's
/// InstallDir in the 32-bit view. The publishes and the prefix are made at the same time; the timings are kept.
/// </summary>
internal sealed class WineWorld : IDisposable
{
    public const string DllName = "winfsp-x64.dll";

    private readonly TempDir _scratch = new("winfsp-wine");

    public WineWorld()
    {
        RequiredTools.Require("wine", "wineserver", "x86_64-w64-mingw32-gcc");
        var clock = Stopwatch.StartNew();
        InstallDir = Directory.CreateDirectory(Path.Combine(_scratch.Path, "WinFsp")).FullName;
        Directory.CreateDirectory(Path.Combine(InstallDir, "bin"));
        var publish = Task.Run(PublishDriver);
        var publishCli = Task.Run(PublishCli);
        var prefix = Task.Run(() => WinePrefix.Create(Path.Combine(_scratch.Path, "prefix")));
        BuildFakeDll(Path.Combine(InstallDir, "bin", DllName));
        HoldFile = Path.Combine(_scratch.Path, "hold_file.exe");
        BuildHoldFile(HoldFile);
        Driver = publish.GetAwaiter().GetResult();
        Cli = publishCli.GetAwaiter().GetResult();
        Wine = prefix.GetAwaiter().GetResult();
        SetInstallDir(InstallDir);
        SetupTime = clock.Elapsed;
    }

    public string Scratch => _scratch.Path;

    public string InstallDir { get; }

    /// <summary>The published driver exe (Linux path).</summary>
    public string Driver { get; }

    /// <summary>The published qcow2mount.exe (Linux path).</summary>
    public string Cli { get; }

    /// <summary>hold_file.exe FILE SECONDS: keeps FILE open without sharing (Linux path).</summary>
    public string HoldFile { get; }

    public WinePrefix Wine { get; }

    public TimeSpan SetupTime { get; }

    public static string FakeSource => Path.Combine(TestProjectDirectory, "FakeWinFsp", "fake_winfsp.c");

    private static string TestProjectDirectory => Path.Combine(RepositoryRoot, "tests", "Qcow2Mount.WinFsp.Tests");

    private static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Qcow2Mount.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException("Qcow2Mount.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>Writes InstallDir (with WinFsp's trailing backslash) under HKLM\SOFTWARE\WinFsp, by default in the 32-bit view.</summary>
    public void SetInstallDir(string linuxDirectory, WineRegistryView view = WineRegistryView.Registry32) =>
        Wine.SetValue(@"HKLM\SOFTWARE\WinFsp", "InstallDir", "REG_SZ", WinePrefix.WindowsPath(linuxDirectory) + "\\", view);

    public void DeleteWinFspKey(WineRegistryView view = WineRegistryView.Registry32) => Wine.DeleteKey(@"HKLM\SOFTWARE\WinFsp", view);

    /// <summary>
    /// Runs the driver (<c>rw|ro IMAGE...</c>) with <paramref name="script"/> for the fake dispatcher and returns the
    /// process result and the fake's report. <paramref name="swap"/> makes the fake swap two interface slots.
    /// </summary>
    public (WineResult Result, FakeReport Report) RunDriver(string mode, IReadOnlyList<string> images, IReadOnlyList<string> script, string name, (int A, int B)? swap = null)
    {
        var environment = FakeEnvironment(name, script, hold: false);
        if (swap is var (a, b))
        {
            environment["FAKE_WINFSP_SWAP"] = $"{a},{b}";
        }

        var result = Wine.Run(Driver, [mode, .. images.Select(WinePrefix.WindowsPath)], environment: environment);
        return (result, FakeReport.Load(ReportPath(name)));
    }

    /// <summary>The fake's environment: <paramref name="script"/> for its dispatcher, its report in Scratch/NAME.report, and HOLD (the volume stays until unmounted).</summary>
    public Dictionary<string, string?> FakeEnvironment(string name, IReadOnlyList<string> script, bool hold)
    {
        string scriptPath = Path.Combine(Scratch, name + ".script");
        File.WriteAllLines(scriptPath, script);
        File.Delete(ReportPath(name));
        return new Dictionary<string, string?>
        {
            ["FAKE_WINFSP_SCRIPT"] = WinePrefix.WindowsPath(scriptPath),
            ["FAKE_WINFSP_REPORT"] = WinePrefix.WindowsPath(ReportPath(name)),
            ["FAKE_WINFSP_HOLD"] = hold ? "1" : "0",
        };
    }

    public string ReportPath(string name) => Path.Combine(Scratch, name + ".report");

    /// <summary><c>qcow2mount.exe ARGS</c> under Wine, waiting for it (at most <paramref name="timeout"/>, default 2 min).</summary>
    public WineResult RunCli(IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string?>? environment = null, TimeSpan? timeout = null) =>
        Wine.Run(Cli, arguments, timeout, environment);

    /// <summary><c>qcow2mount.exe ARGS</c> under Wine in the background (a mount that serves until unmounted); disposing it ends it.</summary>
    public BackgroundProcess StartCli(IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string?> environment) =>
        Wine.Start(Cli, arguments, environment);

    public void Dispose()
    {
        Wine?.Dispose();
        _scratch.Dispose();
    }

    /// <summary>Compiles the fake with warnings as errors; its _Static_asserts check the structure sizes at compile time.</summary>
    private static void BuildFakeDll(string output) =>
        ProcessRunner.Run("x86_64-w64-mingw32-gcc", ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-static-libgcc", "-o", output, FakeSource, "-ladvapi32"]);

    private static void BuildHoldFile(string output) =>
        ProcessRunner.Run("x86_64-w64-mingw32-gcc", ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-municode", "-o", output, Path.Combine(TestProjectDirectory, "FakeWinFsp", "hold_file.c")]);

    private static string PublishCli() =>
        Path.Combine(Publish(Path.Combine(RepositoryRoot, "src", "Qcow2Mount.Cli", "Qcow2Mount.Cli.csproj"), "winfsp-cli"), "qcow2mount.exe");

    /// <summary>
    /// <c>dotnet publish -r win-x64 --self-contained -p:PublishAot=false</c> of the driver, with its own artifacts folder
    /// next to the test binaries (incremental across local runs, and the tree's obj/ folders are left alone).
    /// </summary>
    private static string PublishDriver() =>
        Path.Combine(Publish(Path.Combine(TestProjectDirectory, "Driver", "Qcow2Mount.WinFsp.Driver.csproj"), "winfsp-driver"), "Qcow2Mount.WinFsp.Driver.exe");

    private static string Publish(string project, string folder)
    {
        string root = Path.Combine(AppContext.BaseDirectory, folder);
        string output = Path.Combine(root, "publish");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
            ? host
            : RequiredTools.FindOnPath("dotnet") ?? "dotnet";
        var environment = new Dictionary<string, string?> { ["MSBUILDDISABLENODEREUSE"] = "1", ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1", ["DOTNET_NOLOGO"] = "1" };
        var result = ProcessRunner.Capture(
            dotnet,
            ["publish", project, "-c", "Release", "-r", "win-x64", "--self-contained", "-p:PublishAot=false", "-nodeReuse:false",
                "--artifacts-path", Path.Combine(root, "artifacts"), "-o", output],
            environment,
            TimeSpan.FromMinutes(8));
        if (result.ExitCode != 0)
        {
            throw new ExternalCommandException($"publish failed: {result}");
        }

        return output;
    }
}
