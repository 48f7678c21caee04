using Qcow2Mount.Core;

namespace Qcow2Mount.TestSupport;

/// <summary>
/// An in-memory disk with block status at <see cref="Granularity"/>: a chunk of zeros reports Zero (a hole), anything
/// else Data. Records zero-writes so tests can see which IVirtualDisk call a file operation became.
/// </summary>
public sealed class MemoryDisk : IVirtualDisk
{
    public const int Granularity = 64 * 1024;

    private readonly byte[] _data;

    public MemoryDisk(int length, bool readOnly = false)
    {
        _data = new byte[length];
        IsReadOnly = readOnly;
    }

    public List<(long Offset, long Length, bool MayUnmap)> ZeroWrites { get; } = [];

    public int FlushCount { get; private set; }

    public Exception? Failure { get; set; }

    /// <summary>At most this many bytes per Read call (0: all that is asked), to test callers that must loop.</summary>
    public int ReadChunk { get; set; }

    public bool Disposed { get; private set; }

    public long Length => _data.Length;

    public bool IsReadOnly { get; }

    public Span<byte> Bytes => _data;

    public int Read(long offset, Span<byte> buffer)
    {
        ThrowIfFailing();
        int n = (int)Math.Clamp(_data.Length - offset, 0, ReadChunk > 0 ? Math.Min(ReadChunk, buffer.Length) : buffer.Length);
        _data.AsSpan((int)offset, n).CopyTo(buffer);
        return n;
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        ThrowIfFailing();
        data.CopyTo(_data.AsSpan((int)offset));
    }

    public void WriteZeroes(long offset, long length, bool mayUnmap)
    {
        ThrowIfFailing();
        ZeroWrites.Add((offset, length, mayUnmap));
        _data.AsSpan((int)offset, (int)length).Clear();
    }

    public void Discard(long offset, long length) => WriteZeroes(offset, length, true);

    public void Flush()
    {
        ThrowIfFailing();
        FlushCount++;
    }

    public BlockStatus GetBlockStatus(long offset, long maxLength)
    {
        ThrowIfFailing();
        bool zero = IsZero(offset);
        long end = offset;
        do
        {
            end = (end / Granularity + 1) * Granularity;
        }
        while (end < offset + maxLength && IsZero(end) == zero);

        return new BlockStatus(Math.Min(end, offset + maxLength) - offset, zero ? BlockStatusFlags.Zero : BlockStatusFlags.Data | BlockStatusFlags.Allocated);
    }

    public void Dispose() => Disposed = true;

    private bool IsZero(long offset)
    {
        long chunk = offset / Granularity * Granularity;
        return !_data.AsSpan((int)chunk, (int)Math.Min(Granularity, _data.Length - chunk)).ContainsAnyExcept((byte)0);
    }

    private void ThrowIfFailing()
    {
        if (Failure is not null)
        {
            throw Failure;
        }
    }
}
