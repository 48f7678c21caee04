using Qcow2Mount.Core;

namespace Qcow2Mount.WinFsp.Tests.Support;

/// <summary>
/// A real disk with its Flush and Dispose calls appended to a shared log ("flush disk.raw"), so a test sees when the
/// shim reached the engine relative to the WinFsp calls. <see cref="Failure"/>, when set, is thrown by every I/O.
/// </summary>
internal sealed class RecordingDisk(IVirtualDisk inner, string name, List<string> log) : IVirtualDisk
{
    public Exception? Failure { get; set; }

    public long Length => inner.Length;

    public bool IsReadOnly => inner.IsReadOnly;

    public int FlushCount { get; private set; }

    public int Read(long offset, Span<byte> buffer)
    {
        ThrowIfFailing();
        return inner.Read(offset, buffer);
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        ThrowIfFailing();
        inner.Write(offset, data);
    }

    public void WriteZeroes(long offset, long length, bool mayUnmap) => inner.WriteZeroes(offset, length, mayUnmap);

    public void Discard(long offset, long length) => inner.Discard(offset, length);

    public void Flush()
    {
        ThrowIfFailing();
        Record("flush " + name);
        FlushCount++;
        inner.Flush();
    }

    public BlockStatus GetBlockStatus(long offset, long maxLength) => inner.GetBlockStatus(offset, maxLength);

    public void Dispose()
    {
        Record("dispose " + name);
        inner.Dispose();
    }

    private void Record(string entry)
    {
        lock (log)
        {
            log.Add(entry);
        }
    }

    private void ThrowIfFailing()
    {
        if (Failure is not null)
        {
            throw Failure;
        }
    }
}
