using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>A file that counts its syncs and its length changes (ftruncate).</summary>
internal sealed class CountingBlockDevice(IBlockDevice inner) : IBlockDevice
{
    private int _flushes;
    private int _lengthChanges;

    public int Flushes => Volatile.Read(ref _flushes);

    public int LengthChanges => Volatile.Read(ref _lengthChanges);

    public long Length => inner.Length;

    public bool IsReadOnly => inner.IsReadOnly;

    public string Name => inner.Name;

    public int Read(long offset, Span<byte> buffer) => inner.Read(offset, buffer);

    public void Write(long offset, ReadOnlySpan<byte> data) => inner.Write(offset, data);

    public void Write(long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers) => inner.Write(offset, buffers);

    public void SetLength(long length)
    {
        Interlocked.Increment(ref _lengthChanges);
        inner.SetLength(length);
    }

    public void Flush()
    {
        Interlocked.Increment(ref _flushes);
        inner.Flush();
    }

    public void PunchHole(long offset, long length) => inner.PunchHole(offset, length);

    public bool TryZeroRange(long offset, long length) => inner.TryZeroRange(offset, length);

    public void Dispose() => inner.Dispose();
}
