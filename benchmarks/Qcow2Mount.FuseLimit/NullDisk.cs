using Qcow2Mount.Core;

namespace Qcow2Mount.FuseLimit;

/// <summary>
/// A disk that does nothing: reads return zeros, writes and zero-writes are dropped, flush returns at once, and the
/// whole disk is one hole. What is left of a request's cost is the FUSE round trip and our protocol code.
/// </summary>
internal sealed class NullDisk : IVirtualDisk
{
    public NullDisk(long length) => Length = length;

    public long Length { get; }

    public bool IsReadOnly => false;

    public int Read(long offset, Span<byte> buffer)
    {
        int count = (int)Math.Clamp(Length - offset, 0, buffer.Length);
        buffer[..count].Clear();
        return count;
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
    }

    public void WriteZeroes(long offset, long length, bool mayUnmap)
    {
    }

    public void Discard(long offset, long length)
    {
    }

    public void Flush()
    {
    }

    public BlockStatus GetBlockStatus(long offset, long maxLength) => new(maxLength, BlockStatusFlags.Zero);

    public void Dispose()
    {
    }
}
