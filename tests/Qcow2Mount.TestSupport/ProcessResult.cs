namespace Qcow2Mount.TestSupport;

/// <summary>What a finished external command printed and returned.</summary>
public sealed record ProcessResult(string CommandLine, int ExitCode, string StandardOutput, string StandardError)
{
    public override string ToString() =>
        $"{CommandLine} (exit {ExitCode})\nstdout: {StandardOutput.TrimEnd()}\nstderr: {StandardError.TrimEnd()}";
}
