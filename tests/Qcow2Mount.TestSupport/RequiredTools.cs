namespace Qcow2Mount.TestSupport;

/// <summary>
/// The external tools a test needs. Tests install nothing: <c>build.ps1 test</c> (through <c>build.ps1 deps</c>) installs
/// every package of <c>.ci/packages.tsv</c> before the first test starts, and a test that still finds a tool missing
/// fails with the package that provides it, named by that same map. Never a skip.
/// </summary>
public static class RequiredTools
{
    /// <summary>The package map's path inside the repository.</summary>
    public const string PackageMapPath = ".ci/packages.tsv";

    private static readonly Lazy<IReadOnlyDictionary<string, string>> Map = new(ReadMap, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Command (or absolute file path) → the Debian package that provides it, from <c>.ci/packages.tsv</c>.</summary>
    public static IReadOnlyDictionary<string, string> PackageMap => Map.Value;

    /// <summary>Throws, naming the package and <c>build.ps1 deps</c>, unless every one of <paramref name="tools"/> is present.</summary>
    public static void Require(params string[] tools)
    {
        foreach (string tool in tools)
        {
            bool present = tool.StartsWith('/') ? File.Exists(tool) : FindOnPath(tool) is not null;
            if (!present)
            {
                throw new ExternalCommandException(MissingMessage(tool));
            }
        }
    }

    /// <summary>What a test says when <paramref name="tool"/> is missing.</summary>
    public static string MissingMessage(string tool) =>
        PackageMap.TryGetValue(tool, out string? package)
            ? $"{tool} is not installed: it comes with the Debian package {package}; run `dotnet pwsh build.ps1 deps` as root (build.ps1 test does this first)"
            : $"{tool} is not installed, and {PackageMapPath} does not say which package provides it: add it there, then run `dotnet pwsh build.ps1 deps` as root";

    /// <summary>The full path of <paramref name="program"/> on PATH, or null.</summary>
    public static string? FindOnPath(string program)
    {
        string[] directories = (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(Path.PathSeparator);
        return directories
            .Where(d => d.Length > 0)
            .Select(d => Path.Combine(d, program))
            .FirstOrDefault(File.Exists);
    }

    /// <summary>The repository root: the nearest folder above the test assembly that holds the package map.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, PackageMapPath)))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no {PackageMapPath} above {AppContext.BaseDirectory}");
    }

    private static Dictionary<string, string> ReadMap()
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in File.ReadAllLines(Path.Combine(RepositoryRoot(), PackageMapPath)))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            string[] fields = line.Split('\t');
            if (fields.Length < 2 || fields[0].Length == 0 || fields[1].Length == 0)
            {
                throw new InvalidDataException($"{PackageMapPath}: not 'tool<TAB>package<TAB>used by': {line}");
            }

            map[fields[0]] = fields[1];
        }

        return map;
    }
}
