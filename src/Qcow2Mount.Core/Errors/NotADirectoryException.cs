namespace Qcow2Mount.Core.Errors;

/// <summary>A directory operation named a raw file (ENOTDIR, STATUS_NOT_A_DIRECTORY).</summary>
public sealed class NotADirectoryException : VfsException
{
    public NotADirectoryException(string what)
        : base($"{what}: not a directory")
    {
    }
}
