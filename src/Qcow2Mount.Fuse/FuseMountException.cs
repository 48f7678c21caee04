namespace Qcow2Mount.Fuse;

/// <summary>libfuse refused to create or mount the file system; the message is one line for the user.</summary>
public sealed class FuseMountException : IOException
{
    public FuseMountException(string message)
        : base(message)
    {
    }
}
