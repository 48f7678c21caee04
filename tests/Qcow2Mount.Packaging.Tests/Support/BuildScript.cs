using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Packaging.Tests.Support;

/// <summary>Runs the repository's PowerShell scripts as users do: <c>dotnet pwsh -NoProfile -File SCRIPT ARGS</c>.</summary>
internal static class BuildScript
{
    /// <summary>A publish on a busy two-core machine with a cold NuGet cache can take minutes; a hang still ends.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(10);

    private static readonly Dictionary<string, string?> Quiet = new()
    {
        ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        ["DOTNET_NOLOGO"] = "1",
        ["POWERSHELL_TELEMETRY_OPTOUT"] = "1",
        ["MSBUILDDISABLENODEREUSE"] = "1", // no build server outlives the test
    };

    /// <summary><c>dotnet pwsh build.ps1 ARGS</c> in the repository root.</summary>
    public static ProcessResult Run(params string[] args) => RunScript(Repository.BuildScript, args);

    public static ProcessResult RunScript(string script, IReadOnlyList<string> args) =>
        ProcessRunner.Capture("dotnet", ["pwsh", "-NoProfile", "-File", script, .. args], Quiet, Timeout);

    /// <summary>The Cli project's Version (what build.ps1 packages unless told -Version).</summary>
    public static string ProjectVersion()
    {
        var result = ProcessRunner.Run("dotnet", ["msbuild", Path.Combine(Repository.Root, "src", "Qcow2Mount.Cli", "Qcow2Mount.Cli.csproj"), "-getProperty:Version", "-nologo"]);
        return result.StandardOutput.Trim();
    }
}
