namespace Qcow2Mount.Core.Storage;

/// <summary>Positional byte storage under an image: the image file, a backing file, an external data file.</summary>
public interface IBlockDevice : IDisposable
{
    /// <summary>Current length in bytes.</summary>
    long Length { get; }

    bool IsReadOnly { get; }

    /// <summary>Short name for messages (the file path).</summary>
    string Name { get; }

    /// <summary>Reads at <paramref name="offset"/>; bytes past the end read as zeros. Returns the count actually present in the device.</summary>
    int Read(long offset, Span<byte> buffer);

    void Write(long offset, ReadOnlySpan<byte> data);

    /// <summary>Writes several buffers back to back starting at <paramref name="offset"/> (one system call where possible).</summary>
    void Write(long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers);

    void SetLength(long length);

    /// <summary>Flushes written data to stable storage (fdatasync).</summary>
    void Flush();

    /// <summary>Releases the host storage behind a range (it then reads as zeros). Best effort: may do nothing.</summary>
    void PunchHole(long offset, long length);

    /// <summary>
    /// Makes the range read as zeros without sending zeros (Linux <c>FALLOC_FL_ZERO_RANGE</c>), growing the device if
    /// the range ends past it. False when the device cannot do that cheaply; the caller then writes zeros itself.
    /// </summary>
    bool TryZeroRange(long offset, long length) => false;
}
