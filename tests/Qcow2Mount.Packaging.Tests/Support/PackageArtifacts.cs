using System.Globalization;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Packaging.Tests.Support;

/// <summary>
/// The packages under test, built once per test run the way users build them: <c>dotnet pwsh build.ps1 package</c> (the
/// .deb and the MSI of the project's version). For the upgrade tests, a newer MSI: installer/msi/build-msi.ps1 (the
/// script build.ps1 packs with) on the same payload with a changed README.md, one build number up.
/// A failed build fails every test that needs it, with the build's output.
/// </summary>
internal static class PackageArtifacts
{
    private static readonly Lazy<string> Version = new(BuildPackages, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Lazy<(TempDir Dir, string Msi)> Newer = new(BuildNewerMsi, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>What the newer build's README.md ends with (the newer build's files are told apart by it).</summary>
    public const string NewerReadmeMark = "\n(newer test build)\n";

    /// <summary>The project's version, e.g. 0.1.0 or 0.2.0-rc.1.</summary>
    public static string ProjectVersion => Version.Value;

    /// <summary>The MSI ProductVersion of <see cref="ProjectVersion"/>: numbers only.</summary>
    public static string MsiVersion => ProjectVersion.Split('-', '+')[0];

    public static string Msi => Path.Combine(Repository.Artifacts, $"qcow2mount-{ProjectVersion}-x64.msi");

    public static string Deb => Path.Combine(Repository.Artifacts, $"qcow2mount_{ProjectVersion.Replace('-', '~')}_amd64.deb");

    /// <summary>The folder build.ps1 packed into the MSI.</summary>
    public static string MsiPayload => Path.Combine(Repository.Artifacts, "msi", "payload");

    /// <summary>One build number above the project's version (0.1.0 -> 0.1.1).</summary>
    public static string NewerVersion
    {
        get
        {
            string[] parts = MsiVersion.Split('.');
            return $"{parts[0]}.{parts[1]}.{int.Parse(parts[2], CultureInfo.InvariantCulture) + 1}";
        }
    }

    public static string NewerMsi => Newer.Value.Msi;

    /// <summary>The MSIs built so far in this run (for cleaning up after a test without building one more).</summary>
    public static IEnumerable<string> BuiltMsis =>
        new[] { Version.IsValueCreated ? Msi : null, Newer.IsValueCreated ? NewerMsi : null }.OfType<string>();

    /// <summary>Called once after the last test: deletes the newer MSI's scratch folder.</summary>
    public static void RunTeardown()
    {
        if (Newer.IsValueCreated)
        {
            Newer.Value.Dir.Dispose();
        }
    }

    private static string BuildPackages()
    {
        string version = BuildScript.ProjectVersion();
        var run = BuildScript.Run("package");
        Assert.That(run.ExitCode, Is.Zero, $"build.ps1 package failed:\n{run}");
        return version;
    }

    private static (TempDir, string) BuildNewerMsi()
    {
        _ = ProjectVersion;
        var dir = new TempDir("newer-msi");
        string payload = dir.File("payload");
        Directory.CreateDirectory(payload);
        foreach (string file in Directory.GetFiles(MsiPayload))
        {
            File.Copy(file, Path.Combine(payload, Path.GetFileName(file)));
        }

        File.AppendAllText(Path.Combine(payload, "README.md"), NewerReadmeMark);
        string msi = dir.File($"qcow2mount-{NewerVersion}-x64.msi");
        var run = BuildScript.RunScript(Path.Combine(Repository.MsiSources, "build-msi.ps1"), ["-PayloadDir", payload, "-Version", NewerVersion, "-OutputFile", msi]);
        Assert.That(run.ExitCode, Is.Zero, $"build-msi.ps1 -Version {NewerVersion} failed:\n{run}");
        return (dir, msi);
    }
}
