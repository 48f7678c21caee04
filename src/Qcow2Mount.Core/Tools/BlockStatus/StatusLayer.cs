namespace Qcow2Mount.Core.Tools.BlockStatus;

/// <summary>
/// One layer of a chain as QEMU's block layer sees it: a length, a driver answer for a range, and whether the
/// driver may defer to a backing file. <see cref="ChainStatus"/> adds the generic rules on top.
/// </summary>
internal abstract class StatusLayer : IDisposable
{
    /// <summary>Format and real path of the file this layer reads, to tell when two chains share a layer.</summary>
    public abstract string Identity { get; }

    /// <summary>The length QEMU reports: the virtual size rounded up to whole 512-byte sectors.</summary>
    public abstract long Length { get; }

    /// <summary>True for formats that defer unallocated ranges to a backing file (qcow2); false for raw.</summary>
    public abstract bool SupportsBacking { get; }

    /// <summary>
    /// The driver's answer for [offset, offset + bytes), 0 &lt; bytes &lt;= Length - offset: the flags it sets (Data,
    /// Zero, OffsetValid; raw layers also Allocated) and the length of the run (1..bytes).
    /// </summary>
    public abstract (QemuStatus Flags, long Length) DriverStatus(long offset, long bytes);

    public abstract void Dispose();

    /// <summary>The real path of a file (symbolic links followed), the way two names for one file compare equal.</summary>
    protected static string RealPath(string path)
    {
        string full = Path.GetFullPath(path);
        try
        {
            return File.ResolveLinkTarget(full, returnFinalTarget: true)?.FullName ?? full;
        }
        catch (IOException)
        {
            return full;
        }
    }
}
