using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.TestSupport.Crash;

/// <summary>
/// Decorates the engine's <see cref="IBlockDevice"/>: every call goes to the real device, and each one that changes
/// what the disk may hold after a power cut is appended to a <see cref="StorageLog"/> once it returned.
/// </summary>
public sealed class RecordingBlockDevice : IBlockDevice
{
    private readonly StorageLog _log;
    private readonly int _file;
    private readonly IBlockDevice _inner;

    internal RecordingBlockDevice(StorageLog log, int file, IBlockDevice inner)
    {
        _log = log;
        _file = file;
        _inner = inner;
    }

    public long Length => _inner.Length;

    public bool IsReadOnly => _inner.IsReadOnly;

    public string Name => _inner.Name;

    public int Read(long offset, Span<byte> buffer) => _inner.Read(offset, buffer);

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        _inner.Write(offset, data);
        _log.Append(_file, StorageOperationKind.Write, offset, data.Length, data.ToArray());
    }

    public void Write(long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers)
    {
        _inner.Write(offset, buffers);
        var all = new byte[buffers.Sum(b => b.Length)];
        int at = 0;
        foreach (var b in buffers)
        {
            b.Span.CopyTo(all.AsSpan(at));
            at += b.Length;
        }

        _log.Append(_file, StorageOperationKind.Write, offset, all.Length, all);
    }

    public void SetLength(long length)
    {
        _inner.SetLength(length);
        _log.Append(_file, StorageOperationKind.SetLength, 0, length, null);
    }

    public void Flush()
    {
        _inner.Flush();
        _log.Append(_file, StorageOperationKind.Flush, 0, 0, null);
    }

    public void PunchHole(long offset, long length)
    {
        _inner.PunchHole(offset, length);
        _log.Append(_file, StorageOperationKind.PunchHole, offset, length, null);
    }

    public bool TryZeroRange(long offset, long length)
    {
        bool done = _inner.TryZeroRange(offset, length);
        if (done)
        {
            _log.Append(_file, StorageOperationKind.ZeroRange, offset, length, null);
        }

        return done;
    }

    public void Dispose() => _inner.Dispose();
}
