namespace Qcow2Mount.Packaging.Tests.Support;

/// <summary>Paths in the repository this test assembly was built from.</summary>
internal static class Repository
{
    /// <summary>The nearest folder above the test assembly that holds Qcow2Mount.sln.</summary>
    public static string Root { get; } = FindRoot();

    public static string Artifacts => Path.Combine(Root, "artifacts");

    public static string BuildScript => Path.Combine(Root, "build.ps1");

    public static string MsiSources => Path.Combine(Root, "installer", "msi");

    public static string CommittedIcon => Path.Combine(Root, "installer", "icon", "qcow2mount.ico");

    /// <summary>src/Qcow2Mount.Cli/bin/CONFIGURATION/net10.0/qcow2mount.dll, in this test assembly's configuration.</summary>
    public static string CliDll
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
            string dll = Path.Combine(Root, "src", "Qcow2Mount.Cli", "bin", dir.Parent!.Name, dir.Name, "qcow2mount.dll");
            Assert.That(dll, Does.Exist, "build the solution first");
            return dll;
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Qcow2Mount.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no Qcow2Mount.sln above {AppContext.BaseDirectory}");
    }
}
