namespace Qcow2Mount.Core.Errors;

/// <summary>
/// A write reaches past the end of a raw file, which never grows (as on a block device): ENOSPC,
/// STATUS_DISK_FULL. Nothing of the write was written.
/// </summary>
public sealed class WritePastEndException : VfsException
{
    public WritePastEndException(string file, long offset, int length, long size)
        : base($"{file}: write of {length} bytes at offset {offset} reaches past the end of the disk ({size} bytes)")
    {
    }
}
