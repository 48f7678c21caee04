using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Tools.BlockStatus;

namespace Qcow2Mount.Core.Tools;

/// <summary>
/// One image of a compare: the disk as the engine reads it (backing chain included) and its block status as
/// qemu-img sees it; every failure becomes a <see cref="CompareFailedException"/> naming the stage.
/// </summary>
internal sealed class CompareSide : IDisposable
{
    private readonly IVirtualDisk _disk;
    private readonly ChainStatus _status;

    private CompareSide(string name, IVirtualDisk disk, ChainStatus status)
    {
        Name = name;
        _disk = disk;
        _status = status;
    }

    public string Name { get; }

    /// <summary>The length qemu-img compares: whole 512-byte sectors (the tail of the last one reads as zeros).</summary>
    public long Length => BlockStatus.HostFileStatus.SectorAligned(_disk.Length);

    /// <summary>Guest bytes read so far.</summary>
    public long BytesRead { get; private set; }

    public static CompareSide Open(string path, string? format, bool lockImage)
    {
        if (!File.Exists(path))
        {
            throw new CompareFailedException(CompareStage.Open, $"Could not open '{path}': No such file or directory");
        }

        IVirtualDisk? disk = null;
        try
        {
            disk = DiskImage.Open(path, format, new ImageOpenOptions { ReadOnly = true, Lock = lockImage });
            return new CompareSide(path, disk, ChainStatus.Open(path, format));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            disk?.Dispose();
            throw new CompareFailedException(CompareStage.Open, $"Could not open '{path}': {Reason(e, path)}", e);
        }
    }

    /// <summary>True when both runs take their bytes from the same layer file (same format), so they cannot differ.</summary>
    public static bool SameSource(CompareSide a, StatusRun ra, CompareSide b, StatusRun rb) =>
        ra.IsAllocated && rb.IsAllocated && a._status.LayerIdentity(ra.Depth) == b._status.LayerIdentity(rb.Depth);

    public StatusRun Status(long offset, long bytes)
    {
        try
        {
            return _status.Get(offset, bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompareFailedException(CompareStage.Status, $"Sector allocation test failed for {Name}: {Reason(e, Name)}", e);
        }
    }

    public void Read(long offset, Span<byte> buffer)
    {
        try
        {
            int n = _disk.Read(offset, buffer);
            buffer[n..].Clear();
            BytesRead += buffer.Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CompareFailedException(CompareStage.Read, $"Error while reading offset {offset} of {Name}: {Reason(e, Name)}", e);
        }
    }

    public void Dispose()
    {
        _status.Dispose();
        _disk.Dispose();
    }

    /// <summary>The exception's message without a leading "path: " (the compare message names the file already).</summary>
    private static string Reason(Exception e, string path)
    {
        string m = e.Message;
        return e is Qcow2Exception && m.StartsWith(path + ": ", StringComparison.Ordinal) ? m[(path.Length + 2)..] : m;
    }
}
