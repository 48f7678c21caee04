namespace Qcow2Mount.Cli;

/// <summary>A wrong option or argument: printed as one line, exit code 1 (as qemu-img does).</summary>
internal sealed class UsageException : Exception
{
    public UsageException(string message)
        : base(message)
    {
    }
}
