namespace Qcow2Mount.TestSupport;

/// <summary>Makes sure the QEMU tools the oracle tests need are present: installs them rather than letting tests skip.</summary>
public static class ToolInstaller
{
    private static readonly Lazy<bool> Installed = new(Install, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Installs <c>qemu-utils</c> with apt-get when <c>qemu-img</c> or <c>qemu-io</c> is not on PATH. Idempotent and thread-safe.</summary>
    public static void EnsureInstalled() => _ = Installed.Value;

    /// <summary>The full path of <paramref name="program"/> on PATH, or null.</summary>
    public static string? FindOnPath(string program)
    {
        string[] directories = (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(Path.PathSeparator);
        return directories
            .Select(d => Path.Combine(d, program))
            .FirstOrDefault(File.Exists);
    }

    private static bool Install()
    {
        if (FindOnPath("qemu-img") is not null && FindOnPath("qemu-io") is not null)
        {
            return true;
        }

        string[] install = ["DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "--no-install-recommends", "qemu-utils"];
        ProcessResult first = ProcessRunner.Run("env", install, 0, 100);
        if (first.ExitCode != 0)
        {
            // A stale package index is the usual cause: refresh it once and retry.
            ProcessRunner.Run("env", ["DEBIAN_FRONTEND=noninteractive", "apt-get", "update"]);
            ProcessRunner.Run("env", install);
        }

        if (FindOnPath("qemu-img") is null || FindOnPath("qemu-io") is null)
        {
            throw new ExternalCommandException("qemu-utils was installed but qemu-img/qemu-io are still not on PATH");
        }

        return true;
    }
}
