using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Packaging.Tests.Support;

internal static class ProcessResults
{
    /// <summary>Throws with the command line and its output unless it exited with 0.</summary>
    public static ProcessResult ThrowIfFailed(this ProcessResult result) =>
        result.ExitCode == 0 ? result : throw new ExternalCommandException($"unexpected exit code {result.ExitCode} from {result}");
}
