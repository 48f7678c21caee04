namespace Qcow2Mount.Cli;

/// <summary>A mount could not be set up or taken down (mount point, /dev/fuse, a running server); one line, exit code 2.</summary>
internal sealed class MountFailedException : IOException
{
    public MountFailedException(string message)
        : base(message)
    {
    }
}
