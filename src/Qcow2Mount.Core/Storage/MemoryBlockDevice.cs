namespace Qcow2Mount.Core.Storage;

/// <summary>An in-memory <see cref="IBlockDevice"/>: for unit tests and the fuzzer (no file system involved).</summary>
public sealed class MemoryBlockDevice : IBlockDevice
{
    private readonly object _gate = new();
    private byte[] _data;
    private long _length;

    public MemoryBlockDevice(byte[] initial, bool readOnly = false, string name = "memory")
    {
        _data = (byte[])initial.Clone();
        _length = initial.Length;
        IsReadOnly = readOnly;
        Name = name;
    }

    /// <summary>Upper bound on the length, so a hostile image cannot make the fuzzer allocate without bound.</summary>
    public long MaxLength { get; init; } = 1L << 30;

    public long Length
    {
        get
        {
            lock (_gate)
            {
                return _length;
            }
        }
    }

    public bool IsReadOnly { get; }

    public string Name { get; }

    public int WriteCount { get; private set; }

    public byte[] ToArray()
    {
        lock (_gate)
        {
            return _data.AsSpan(0, (int)_length).ToArray();
        }
    }

    public int Read(long offset, Span<byte> buffer)
    {
        lock (_gate)
        {
            buffer.Clear();
            if (offset >= _length)
            {
                return 0;
            }

            int n = (int)Math.Min(buffer.Length, _length - offset);
            _data.AsSpan((int)offset, n).CopyTo(buffer);
            return n;
        }
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        lock (_gate)
        {
            EnsureWritable();
            Reserve(offset + data.Length);
            data.CopyTo(_data.AsSpan((int)offset));
            WriteCount++;
        }
    }

    public void Write(long offset, IReadOnlyList<ReadOnlyMemory<byte>> buffers)
    {
        foreach (var b in buffers)
        {
            Write(offset, b.Span);
            offset += b.Length;
        }
    }

    public void SetLength(long length)
    {
        lock (_gate)
        {
            EnsureWritable();
            Reserve(length);
            if (length < _length)
            {
                _data.AsSpan((int)length, (int)(_length - length)).Clear();
            }

            _length = length;
        }
    }

    public void Flush()
    {
    }

    public void PunchHole(long offset, long length)
    {
        lock (_gate)
        {
            EnsureWritable();
            long end = Math.Min(offset + length, _length);
            if (end > offset)
            {
                _data.AsSpan((int)offset, (int)(end - offset)).Clear();
            }
        }
    }

    public void Dispose()
    {
    }

    private void EnsureWritable()
    {
        if (IsReadOnly)
        {
            throw new Errors.ReadOnlyImageException(Name);
        }
    }

    private void Reserve(long end)
    {
        if (end > MaxLength)
        {
            throw new IOException($"{Name}: write beyond the {MaxLength}-byte limit of the in-memory device");
        }

        if (end > _data.Length)
        {
            Array.Resize(ref _data, (int)Math.Max(end, Math.Min(MaxLength, (long)_data.Length * 2)));
        }

        if (end > _length)
        {
            _length = end;
        }
    }
}
