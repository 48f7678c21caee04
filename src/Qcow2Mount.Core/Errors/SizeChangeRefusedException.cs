namespace Qcow2Mount.Core.Errors;

/// <summary>
/// A raw file's size is the disk's and never changes: truncating or extending it (or an allocation that would cut
/// it) is refused. <see cref="Grows"/> tells the two apart for platforms that answer differently (Windows:
/// STATUS_DISK_FULL to grow, STATUS_ACCESS_DENIED to shrink; FUSE: EPERM for both).
/// </summary>
public sealed class SizeChangeRefusedException : VfsException
{
    public SizeChangeRefusedException(string file, long size, long requested)
        : base($"{file}: the size is fixed at {size} bytes (asked for {requested})")
    {
        Size = size;
        Requested = requested;
    }

    public long Size { get; }

    public long Requested { get; }

    public bool Grows => Requested > Size;
}
