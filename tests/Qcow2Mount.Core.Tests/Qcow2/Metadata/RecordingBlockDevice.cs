using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Tests.Qcow2.Metadata;

/// <summary>A device that records every write (offset) and flush, in order, as "write 0x…" and "flush".</summary>
internal sealed class RecordingBlockDevice(IBlockDevice inner) : IBlockDevice
{
    private readonly List<string> _log = new();

    public IReadOnlyList<string> Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToArray();
            }
        }
    }

    public long Length => inner.Length;

    public bool IsReadOnly => inner.IsReadOnly;

    public string Name => inner.Name;

    public void Clear()
    {
        lock (_log)
        {
            _log.Clear();
        }
    }

    public int Read(long offset, Span<byte> buffer) => inner.Read(offset, buffer);

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        Note($"write 0x{offset:x}");
        inner.Write(offset, data);
    }

    public void Write(long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers)
    {
        Note($"write 0x{offset:x}");
        inner.Write(offset, buffers);
    }

    public void SetLength(long length)
    {
        Note("set-length");
        inner.SetLength(length);
    }

    public void Flush()
    {
        Note("flush");
        inner.Flush();
    }

    public void PunchHole(long offset, long length) => inner.PunchHole(offset, length);

    public bool TryZeroRange(long offset, long length) => inner.TryZeroRange(offset, length);

    public void Dispose() => inner.Dispose();

    private void Note(string entry)
    {
        lock (_log)
        {
            _log.Add(entry);
        }
    }
}
