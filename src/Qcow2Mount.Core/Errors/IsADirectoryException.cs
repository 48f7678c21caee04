namespace Qcow2Mount.Core.Errors;

/// <summary>A file operation named the root directory (EISDIR, STATUS_FILE_IS_A_DIRECTORY).</summary>
public sealed class IsADirectoryException : VfsException
{
    public IsADirectoryException(string what)
        : base($"{what}: is a directory")
    {
    }
}
