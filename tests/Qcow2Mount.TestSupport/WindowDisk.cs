using Qcow2Mount.Core;

namespace Qcow2Mount.TestSupport;

/// <summary>
/// A window [<see cref="Start"/>, Start + Length) of another disk, shown as a disk of its own (offsets shifted), so
/// several workloads can run side by side on disjoint ranges of one image. Disposing the window leaves the inner disk open.
/// </summary>
public sealed class WindowDisk(IVirtualDisk inner, long start, long length) : IVirtualDisk
{
    public long Start { get; } = start;

    public long Length { get; } = length;

    public bool IsReadOnly => inner.IsReadOnly;

    public int Read(long offset, Span<byte> buffer) =>
        inner.Read(Start + offset, buffer[..(int)Math.Clamp(Length - offset, 0, buffer.Length)]);

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        CheckRange(offset, data.Length);
        inner.Write(Start + offset, data);
    }

    public void WriteZeroes(long offset, long length, bool mayUnmap)
    {
        CheckRange(offset, length);
        inner.WriteZeroes(Start + offset, length, mayUnmap);
    }

    public void Discard(long offset, long length)
    {
        CheckRange(offset, length);
        inner.Discard(Start + offset, length);
    }

    public void Flush() => inner.Flush();

    public BlockStatus GetBlockStatus(long offset, long maxLength) => inner.GetBlockStatus(Start + offset, Math.Min(maxLength, Length - offset));

    public void Dispose()
    {
    }

    private void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > Length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"range {offset}+{length} is outside the {Length}-byte window");
        }
    }
}
