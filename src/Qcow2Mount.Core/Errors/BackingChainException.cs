namespace Qcow2Mount.Core.Errors;

/// <summary>A backing file cannot be used: missing, a loop, too deep, not a regular file, or of the wrong format.</summary>
public sealed class BackingChainException : Qcow2Exception
{
    public BackingChainException(string message)
        : base(message)
    {
    }

    public BackingChainException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
