namespace Qcow2Mount.TestSupport.Wine;

/// <summary>What a Windows program run by <see cref="WinePrefix.Run"/> printed and returned.</summary>
public sealed class WineResult
{
    private readonly ProcessResult _result;

    public WineResult(ProcessResult result)
    {
        _result = result;
    }

    /// <summary>The exit code as Linux sees it: Windows' 32-bit code cut to 8 bits (msiexec's 1603 arrives as 67).</summary>
    public int ExitCode => _result.ExitCode;

    public string StandardOutput => _result.StandardOutput;

    public string StandardError => _result.StandardError;

    /// <summary>The same as a <see cref="ProcessResult"/> (the command line is <c>wine PROGRAM ARGS</c>).</summary>
    public ProcessResult Result => _result;

    /// <summary>The command lines of the processes Wine created (needs WINEDEBUG=<see cref="WineProcessTrace.Channel"/>).</summary>
    public IReadOnlyList<string> CreatedProcesses => WineProcessTrace.CommandLines(_result.StandardError);

    /// <summary>Throws with the command line and the output unless the program exited with 0.</summary>
    public WineResult ThrowIfFailed() =>
        ExitCode == 0 ? this : throw new ExternalCommandException($"unexpected exit code {ExitCode} from {_result}");

    public override string ToString() => _result.ToString();
}
