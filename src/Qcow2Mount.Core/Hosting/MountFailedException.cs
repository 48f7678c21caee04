namespace Qcow2Mount.Core.Hosting;

/// <summary>A mount could not be set up or taken down (mount point, the platform's driver, a running server); one line, exit code 2.</summary>
public sealed class MountFailedException : IOException
{
    public MountFailedException(string message)
        : base(message)
    {
    }
}
