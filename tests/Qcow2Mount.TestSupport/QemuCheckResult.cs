namespace Qcow2Mount.TestSupport;

/// <summary>
/// The outcome of <c>qemu-img check --output=json</c>. QEMU omits zero counts from the JSON, so an absent
/// field reads as 0 here. Exit codes: 0 consistent, 1 check incomplete, 2 corruptions, 3 leaks only.
/// </summary>
public sealed record QemuCheckResult(int ExitCode, long Corruptions, long Leaks, long CheckErrors, long ImageEndOffset, string Output)
{
    /// <summary>No corruption, no leak, no error, and QEMU agrees (exit 0).</summary>
    public bool IsClean => ExitCode == 0 && Corruptions == 0 && Leaks == 0 && CheckErrors == 0;

    public override string ToString() =>
        $"qemu-img check: exit {ExitCode}, {Corruptions} corruptions, {Leaks} leaks, {CheckErrors} check errors\n{Output.TrimEnd()}";
}
