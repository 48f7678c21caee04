using Qcow2Mount.Core;

namespace Qcow2Mount.WinFsp.Driver;

/// <summary>A disk that reports its Flush and Dispose calls ("flush disk.raw") before passing them on.</summary>
internal sealed class NotingDisk(IVirtualDisk inner, string name, Action<string> note) : IVirtualDisk
{
    public long Length => inner.Length;

    public bool IsReadOnly => inner.IsReadOnly;

    public int Read(long offset, Span<byte> buffer) => inner.Read(offset, buffer);

    public void Write(long offset, ReadOnlySpan<byte> data) => inner.Write(offset, data);

    public void WriteZeroes(long offset, long length, bool mayUnmap) => inner.WriteZeroes(offset, length, mayUnmap);

    public void Discard(long offset, long length) => inner.Discard(offset, length);

    public void Flush()
    {
        note("flush " + name);
        inner.Flush();
    }

    public BlockStatus GetBlockStatus(long offset, long maxLength) => inner.GetBlockStatus(offset, maxLength);

    public void Dispose()
    {
        note("dispose " + name);
        inner.Dispose();
    }
}
