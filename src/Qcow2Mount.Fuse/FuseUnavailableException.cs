namespace Qcow2Mount.Fuse;

/// <summary>libfuse3 or the FUSE device cannot be used on this machine; the message says what to install or load.</summary>
public sealed class FuseUnavailableException : IOException
{
    public FuseUnavailableException(string message)
        : base(message)
    {
    }
}
