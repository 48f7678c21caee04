namespace Qcow2Mount.Core.Errors;

/// <summary>
/// Base of the refusals of the file rules (<see cref="Vfs.IVirtualFileSystem"/>): a request the shown files do not
/// allow, not an I/O failure. Each shim turns them into its codes in its one table (ErrnoMap, NtStatusMap).
/// </summary>
public abstract class VfsException : IOException
{
    protected VfsException(string message)
        : base(message)
    {
    }
}
