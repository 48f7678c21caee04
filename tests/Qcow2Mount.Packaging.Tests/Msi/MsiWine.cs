using Qcow2Mount.Packaging.Tests.Support;
using Qcow2Mount.TestSupport;
using Qcow2Mount.TestSupport.Wine;

namespace Qcow2Mount.Packaging.Tests.Msi;

/// <summary>msiexec and the installed product in the shared Wine prefix: what the MSI tests run and read.</summary>
internal static class MsiWine
{
    public const string InstallDirWindows = @"C:\Program Files\Qcow2Mount\";
    public const string ExeWindows = InstallDirWindows + "qcow2mount.exe";
    public const string EnvironmentKey = @"HKLM\System\CurrentControlSet\Control\Session Manager\Environment";
    public const string UninstallKey = @"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall";

    /// <summary>msiexec's ERROR_INSTALL_FAILURE (1603) as a Linux exit code (the low 8 bits).</summary>
    public const int InstallFailure = 1603 & 0xFF;

    public static WinePrefix Prefix => SharedWine.Prefix;

    public static string InstallDir => Prefix.UnixPath(InstallDirWindows);

    /// <summary>WINEDEBUG for a run whose created processes a test reads (<see cref="WineResult.CreatedProcesses"/>).</summary>
    public static Dictionary<string, string?> Trace => new() { ["WINEDEBUG"] = WineProcessTrace.Channel };

    /// <summary><c>msiexec /i|/x MSI /qn</c>: silent, as an unattended install runs.</summary>
    public static WineResult Msiexec(string action, string msi) =>
        Prefix.Run("msiexec", [action, WinePrefix.WindowsPath(msi), "/qn"], TimeSpan.FromMinutes(3));

    /// <summary>Uninstalls every MSI built so far (not installed: msiexec says 1605, which is fine).</summary>
    public static void UninstallAll()
    {
        foreach (string msi in PackageArtifacts.BuiltMsis)
        {
            Msiexec("/x", msi);
        }
    }

    /// <summary>The system PATH as the registry holds it.</summary>
    public static string SystemPath() => Prefix.QueryKey(EnvironmentKey)?["PATH"] ?? "";

    public static string[] PathEntries(string path) => path.Split(';', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The DisplayVersion of every installed product named Qcow2Mount (Add/Remove Programs).</summary>
    public static string[] InstalledProducts() =>
        Prefix.QueryTree(UninstallKey).Values
            .Where(k => k["DisplayName"] == "Qcow2Mount")
            .Select(k => k["DisplayVersion"] ?? "")
            .ToArray();

    /// <summary>The files an MSI installs into Qcow2Mount\, extracted into <paramref name="scratch"/>.</summary>
    public static string Extract(string msi, TempDir scratch)
    {
        string dir = scratch.File("extract-" + Path.GetFileNameWithoutExtension(msi));
        if (!Directory.Exists(dir))
        {
            ProcessRunner.Run("msiextract", ["-C", dir, msi]);
        }

        return Path.Combine(dir, "Qcow2Mount"); // msiextract leaves out ProgramFiles64Folder
    }

    public static string[] RelativeFiles(string dir) =>
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(dir, f)).Order(StringComparer.Ordinal).ToArray();
}
