using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core;

/// <summary>A raw image file as a virtual disk (a raw backing layer, or a raw image given to a mount).</summary>
public sealed class RawDisk : IVirtualDisk
{
    private readonly IBlockDevice _device;
    private readonly long _length;

    public RawDisk(IBlockDevice device, long? length = null)
    {
        _device = device;
        _length = length ?? device.Length;
    }

    public long Length => _length;

    public bool IsReadOnly => _device.IsReadOnly;

    public int Read(long offset, Span<byte> buffer)
    {
        int n = (int)Math.Clamp(_length - offset, 0, buffer.Length);
        _device.Read(offset, buffer[..n]);
        return n;
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        CheckRange(offset, data.Length);
        _device.Write(offset, data);
    }

    public void WriteZeroes(long offset, long length, bool mayUnmap)
    {
        CheckRange(offset, length);
        if (_device.IsReadOnly)
        {
            throw new Errors.ReadOnlyImageException(_device.Name);
        }

        _device.PunchHole(offset, length);
        // PunchHole is best effort: write real zeros where the device still holds data.
        var zeros = new byte[(int)Math.Min(length, 1 << 20)];
        var check = new byte[zeros.Length];
        for (long done = 0; done < length; done += zeros.Length)
        {
            int n = (int)Math.Min(zeros.Length, length - done);
            _device.Read(offset + done, check.AsSpan(0, n));
            if (check.AsSpan(0, n).ContainsAnyExcept((byte)0))
            {
                _device.Write(offset + done, zeros.AsSpan(0, n));
            }
        }
    }

    public void Discard(long offset, long length) => WriteZeroes(offset, length, mayUnmap: true);

    public void Flush() => _device.Flush();

    public BlockStatus GetBlockStatus(long offset, long maxLength) =>
        new(Math.Min(maxLength, _length - offset), BlockStatusFlags.Allocated | BlockStatusFlags.Data, 0, offset);

    public void Dispose() => _device.Dispose();

    private void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > _length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"{_device.Name}: range {offset}+{length} is outside the {_length}-byte disk");
        }
    }
}
