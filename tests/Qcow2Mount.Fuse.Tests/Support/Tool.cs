using System.Diagnostics;

namespace Qcow2Mount.Fuse.Tests.Support;

/// <summary>Runs external programs (qemu-img, losetup, …) with a timeout; installs missing ones through apt.</summary>
internal static class Tool
{
    private static readonly object InstallGate = new();

    public static ProcessResult Run(string program, IEnumerable<string> args, IDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} {string.Join(' ', args)} did not finish in time");
        }

        return new ProcessResult(process.ExitCode, stdout.Result, stderr.Result);
    }

    public static ProcessResult Run(string program, params string[] args) => Run(program, (IEnumerable<string>)args);

    /// <summary>Runs and asserts exit code 0; returns stdout.</summary>
    public static string Check(string program, params string[] args)
    {
        var result = Run(program, args);
        Assert.That(result.ExitCode, Is.Zero, $"{program} {string.Join(' ', args)}: {result}");
        return result.StandardOutput;
    }

    /// <summary>Installs <paramref name="package"/> with apt when <paramref name="command"/> is not on the PATH (tests never skip for a missing tool).</summary>
    public static void Require(string command, string package)
    {
        lock (InstallGate)
        {
            if (Run("sh", "-c", $"command -v {command}").ExitCode == 0)
            {
                return;
            }

            var env = new Dictionary<string, string> { ["DEBIAN_FRONTEND"] = "noninteractive" };
            if (Run("apt-get", ["install", "-y", "-q", package], env, TimeSpan.FromMinutes(5)).ExitCode != 0)
            {
                Run("apt-get", ["update", "-q"], env, TimeSpan.FromMinutes(5));
                var install = Run("apt-get", ["install", "-y", "-q", package], env, TimeSpan.FromMinutes(5));
                Assert.That(install.ExitCode, Is.Zero, $"apt-get install {package}: {install}");
            }
        }
    }
}
