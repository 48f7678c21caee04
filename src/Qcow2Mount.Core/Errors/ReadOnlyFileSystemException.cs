namespace Qcow2Mount.Core.Errors;

/// <summary>The mount is read-only (asked for, or an image was opened read-only): it refuses every change (EROFS, STATUS_MEDIA_WRITE_PROTECTED).</summary>
public sealed class ReadOnlyFileSystemException : VfsException
{
    public ReadOnlyFileSystemException(string what)
        : base($"{what}: the mount is read-only")
    {
    }
}
