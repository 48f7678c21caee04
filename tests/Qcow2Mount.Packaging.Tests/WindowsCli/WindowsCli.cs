using System.Diagnostics;
using System.Text;
using Qcow2Mount.Packaging.Tests.Support;
using Qcow2Mount.TestSupport;
using Qcow2Mount.TestSupport.Wine;

namespace Qcow2Mount.Packaging.Tests.WindowsCli;

/// <summary>
/// The win-x64 qcow2mount that the MSI ships (build.ps1 package's publish, shared with the MSI tests: no publish of
/// its own) run under the shared Wine prefix, beside the Linux build of the same tree. Both run in a working folder
/// of the caller's choosing, so relative image names spell the same apart from the separator.
/// </summary>
internal static class WindowsCli
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(2);

    /// <summary>The published qcow2mount.exe (a Linux path; Wine reaches it through Z:), built with the packages on first use.</summary>
    public static string Exe => PackageArtifacts.ProjectVersion is not null ? Path.Combine(PackageArtifacts.MsiPayload, "qcow2mount.exe") : throw new InvalidOperationException();

    /// <summary>A scratch folder inside the prefix's C: drive (C:\NAME-GUID for Windows programs); the caller deletes it.</summary>
    public static string NewScratch(string name)
    {
        string path = Path.Combine(SharedWine.Prefix.DriveC, $"{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Runs the Windows build in <paramref name="workingDirectory"/> (a Linux path under a Wine drive).</summary>
    public static ProcessResult RunWindows(string workingDirectory, params string[] arguments) =>
        RunWindowsProgram(WinePrefix.WindowsPath(Exe), workingDirectory, arguments);

    /// <summary>Runs another Windows program (e.g. a test helper exe) to its end in <paramref name="workingDirectory"/>.</summary>
    public static ProcessResult RunWindowsProgram(string program, string workingDirectory, IReadOnlyList<string> arguments)
    {
        using var process = StartWindows(program, workingDirectory, arguments);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        process.StandardInput.Close();
        if (!process.WaitForExit(RunTimeout))
        {
            SharedWine.Prefix.EndAllPrograms();
            throw new ExternalCommandException($"{program} {string.Join(' ', arguments)} did not end within {RunTimeout}");
        }

        process.WaitForExit();
        return new ProcessResult(ProcessRunner.FormatCommandLine(program, arguments), process.ExitCode, output.Result, error.Result);
    }

    /// <summary>Starts a Windows program in the background; its standard streams are the caller's to read and close.</summary>
    public static Process StartWindows(string program, string workingDirectory, IReadOnlyList<string> arguments)
    {
        var start = SharedWine.Prefix.StartInfo(program, arguments);
        start.WorkingDirectory = workingDirectory;
        start.StandardOutputEncoding = Encoding.UTF8;
        start.StandardErrorEncoding = Encoding.UTF8;
        return Process.Start(start) ?? throw new ExternalCommandException($"cannot start wine {program}");
    }

    /// <summary>Runs the Linux build (bin/CONFIGURATION/net10.0/qcow2mount.dll) in <paramref name="workingDirectory"/>.</summary>
    public static ProcessResult RunLinux(string workingDirectory, params string[] arguments) =>
        ProcessRunner.Capture(
            "sh",
            ["-c", "cd \"$0\" && exec \"$@\"", workingDirectory, "dotnet", Repository.CliDll, .. arguments],
            new Dictionary<string, string?> { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1" },
            RunTimeout);

    /// <summary>Output as the Linux build would print it: CRLF line ends as LF, backslashes (JSON-escaped ones too) as slashes.</summary>
    public static string Normalise(string output) =>
        output.Replace("\r\n", "\n", StringComparison.Ordinal).Replace(@"\\", "/", StringComparison.Ordinal).Replace('\\', '/');
}
