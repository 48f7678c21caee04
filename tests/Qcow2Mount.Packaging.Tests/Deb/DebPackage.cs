using Qcow2Mount.Packaging.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Packaging.Tests.Deb;

/// <summary>Installing and removing the built .deb on this machine with dpkg (root), and what it contains.</summary>
internal static class DebPackage
{
    public const string Name = "qcow2mount";
    public const string DesktopFile = "/usr/share/applications/qcow2mount.desktop";

    /// <summary>Every path in the package (folders too), as absolute paths (<c>dpkg-deb -c</c>: mode owner size date time path).</summary>
    public static string[] Paths() =>
        ProcessRunner.Run("dpkg-deb", ["-c", PackageArtifacts.Deb]).StandardOutput
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[5])
            .Select(p => "/" + p.TrimStart('.', '/').TrimEnd('/'))
            .Where(p => p != "/")
            .ToArray();

    public static bool IsInstalled() =>
        ProcessRunner.Capture("dpkg-query", ["-W", "-f=${db:Status-Status}", Name]) is { ExitCode: 0 } r && r.StandardOutput.Trim() == "installed";

    /// <summary>Fails the fixture if a qcow2mount package is installed already: the tests would replace and remove it.</summary>
    public static void RequireNotInstalled() =>
        Assert.That(IsInstalled(), Is.False, "a qcow2mount package is installed on this machine; the .deb tests install and remove their own: dpkg -r qcow2mount first");

    public static void Install() => Dpkg("-i", PackageArtifacts.Deb);

    public static void Remove() => Dpkg("-r", Name);

    /// <summary>The default handler xdg-mime reports for a MIME type ("" when none).</summary>
    public static string DefaultHandler(string mimeType) =>
        ProcessRunner.Run("xdg-mime", ["query", "default", mimeType]).StandardOutput.Trim();

    /// <summary>dpkg, waiting a little if another dpkg or apt holds the lock.</summary>
    private static void Dpkg(params string[] args)
    {
        for (int attempt = 1; ; attempt++)
        {
            var run = ProcessRunner.Capture("dpkg", args, null, TimeSpan.FromMinutes(3));
            if (run.ExitCode == 0)
            {
                return;
            }

            if (attempt == 30 || !run.StandardError.Contains("lock", StringComparison.OrdinalIgnoreCase))
            {
                throw new ExternalCommandException($"unexpected exit code {run.ExitCode} from {run}");
            }

            Thread.Sleep(2000);
        }
    }
}
