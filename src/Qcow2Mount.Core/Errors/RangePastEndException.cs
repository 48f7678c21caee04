namespace Qcow2Mount.Core.Errors;

/// <summary>A zero or punch-hole range ends past the end of the disk and was not asked to keep the size: it would grow the file (EFBIG).</summary>
public sealed class RangePastEndException : VfsException
{
    public RangePastEndException(string file, long end, long size)
        : base($"{file}: range ending at {end} lies past the end of the disk ({size} bytes)")
    {
    }
}
