using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>
/// A file whose writes, length changes and flushes call back first (and writes again after), so a test can hold one
/// thread at a chosen I/O and force an interleaving of threads that a loaded machine produces only by chance.
/// </summary>
internal sealed class GatedBlockDevice(IBlockDevice inner) : IBlockDevice
{
    private int _flushes;

    /// <summary>Runs before a write reaches the file, with its offset and length.</summary>
    public Action<long, long>? BeforeWrite { get; set; }

    /// <summary>Runs after a write reached the file, with its offset and length.</summary>
    public Action<long, long>? AfterWrite { get; set; }

    /// <summary>Runs before the file's length is set, with the new length.</summary>
    public Action<long>? BeforeSetLength { get; set; }

    /// <summary>Runs before a flush reaches the file, with its number (1 for the first flush of this device).</summary>
    public Action<int>? BeforeFlush { get; set; }

    /// <summary>The flushes called so far.</summary>
    public int Flushes => Volatile.Read(ref _flushes);

    public long Length => inner.Length;

    public bool IsReadOnly => inner.IsReadOnly;

    public string Name => inner.Name;

    public int Read(long offset, Span<byte> buffer) => inner.Read(offset, buffer);

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        BeforeWrite?.Invoke(offset, data.Length);
        inner.Write(offset, data);
        AfterWrite?.Invoke(offset, data.Length);
    }

    public void Write(long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers)
    {
        long length = buffers.Sum(b => (long)b.Length);
        BeforeWrite?.Invoke(offset, length);
        inner.Write(offset, buffers);
        AfterWrite?.Invoke(offset, length);
    }

    public void SetLength(long length)
    {
        BeforeSetLength?.Invoke(length);
        inner.SetLength(length);
    }

    public void Flush()
    {
        int number = Interlocked.Increment(ref _flushes);
        BeforeFlush?.Invoke(number);
        inner.Flush();
    }

    public void PunchHole(long offset, long length) => inner.PunchHole(offset, length);

    public bool TryZeroRange(long offset, long length)
    {
        BeforeWrite?.Invoke(offset, length);
        bool done = inner.TryZeroRange(offset, length);
        AfterWrite?.Invoke(offset, length);
        return done;
    }

    public void Dispose() => inner.Dispose();
}
