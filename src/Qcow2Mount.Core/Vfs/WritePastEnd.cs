namespace Qcow2Mount.Core.Vfs;

/// <summary>
/// What a write does with bytes past the end of a raw file (which never grows). The platforms differ here, so the
/// shim names its rule on every write; the rest of the write rules are shared.
/// </summary>
public enum WritePastEnd
{
    /// <summary>
    /// FUSE (like a block device): the part that fits is written and its count returned (a short write); a write
    /// starting at or past the end is refused (<see cref="Errors.WritePastEndException"/>, ENOSPC).
    /// </summary>
    WriteWhatFits,

    /// <summary>Windows: any byte past the end refuses the whole write, nothing is written (STATUS_DISK_FULL).</summary>
    Refuse,

    /// <summary>Windows paging I/O (which must not grow a file): the part past the end is dropped, silently.</summary>
    Drop,
}
