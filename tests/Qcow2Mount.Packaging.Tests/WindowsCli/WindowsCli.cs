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
    public static ProcessResult RunWindowsProgram(string program, string workingDirectory, IReadOnlyList<string> arguments) =>
        SharedWine.Prefix.Run(program, arguments, RunTimeout, workingDirectory: workingDirectory).Result;

    /// <summary>Starts a Windows program in the background in <paramref name="workingDirectory"/>; disposing it ends it.</summary>
    public static BackgroundProcess StartWindows(string program, string workingDirectory, IReadOnlyList<string> arguments) =>
        SharedWine.Prefix.Start(program, arguments, workingDirectory: workingDirectory);

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
