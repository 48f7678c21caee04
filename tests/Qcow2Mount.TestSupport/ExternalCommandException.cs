namespace Qcow2Mount.TestSupport;

/// <summary>An external tool failed in a way the test did not expect; the message carries the command line and stderr.</summary>
public sealed class ExternalCommandException : Exception
{
    public ExternalCommandException(string message)
        : base(message)
    {
    }

    public ExternalCommandException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public ExternalCommandException()
    {
    }
}
