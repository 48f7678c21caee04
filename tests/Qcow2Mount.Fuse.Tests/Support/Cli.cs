namespace Qcow2Mount.Fuse.Tests.Support;

/// <summary>Runs the built command line, <c>dotnet …/qcow2mount.dll</c>, as users do.</summary>
internal static class Cli
{
    private static readonly Lazy<string> Dll = new(FindDll);

    public static string DllPath => Dll.Value;

    public static ProcessResult Run(params string[] args) => Run(null, args);

    public static ProcessResult Run(IDictionary<string, string>? environment, params string[] args) =>
        ProcessRunner.Capture("dotnet", [DllPath, .. args], environment?.ToDictionary(p => p.Key, p => (string?)p.Value), TimeSpan.FromMinutes(2));

    /// <summary>Mounts in the background and asserts success.</summary>
    public static void Mount(params string[] args)
    {
        var result = Run(args);
        Assert.That(result.ExitCode, Is.Zero, $"qcow2mount {string.Join(' ', args)}: {result}");
    }

    public static void Unmount(string mountPoint)
    {
        var result = Run("unmount", mountPoint);
        Assert.That(result.ExitCode, Is.Zero, $"qcow2mount unmount {mountPoint}: {result}");
    }

    /// <summary>src/Qcow2Mount.Cli/bin/CONFIGURATION/net10.0/qcow2mount.dll, with the configuration this test assembly was built in.</summary>
    private static string FindDll()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        string framework = dir.Name;
        string configuration = dir.Parent!.Name;
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Qcow2Mount.sln")))
        {
            dir = dir.Parent;
        }

        Assert.That(dir, Is.Not.Null, "repository root not found above " + AppContext.BaseDirectory);
        string dll = Path.Combine(dir!.FullName, "src", "Qcow2Mount.Cli", "bin", configuration, framework, "qcow2mount.dll");
        Assert.That(File.Exists(dll), Is.True, dll + " is missing: build the solution first");
        return dll;
    }
}
