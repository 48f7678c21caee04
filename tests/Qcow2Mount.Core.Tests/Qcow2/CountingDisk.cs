using Qcow2Mount.Core;

namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>A disk that counts the reads asked of it (a backing file seen from the overlay) and passes everything on.</summary>
internal sealed class CountingDisk(IVirtualDisk inner) : IVirtualDisk
{
    private int _reads;

    public int Reads => Volatile.Read(ref _reads);

    public long Length => inner.Length;

    public bool IsReadOnly => inner.IsReadOnly;

    public int Read(long offset, Span<byte> buffer)
    {
        Interlocked.Increment(ref _reads);
        return inner.Read(offset, buffer);
    }

    public void Write(long offset, ReadOnlySpan<byte> data) => inner.Write(offset, data);

    public void WriteZeroes(long offset, long length, bool mayUnmap) => inner.WriteZeroes(offset, length, mayUnmap);

    public void Discard(long offset, long length) => inner.Discard(offset, length);

    public void Flush() => inner.Flush();

    public BlockStatus GetBlockStatus(long offset, long maxLength) => inner.GetBlockStatus(offset, maxLength);

    public void Dispose() => inner.Dispose();
}
