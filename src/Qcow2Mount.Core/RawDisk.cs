using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core;

/// <summary>
/// A raw image file as a virtual disk (a raw backing layer, or a raw image given to a mount).
/// With <c>protectFirstSector</c> (a raw disk whose format was probed, not given) it does what QEMU does for a probed
/// raw image: a write or zero write that changes bytes of the first 512-byte sector is checked against the sector as it
/// would be afterwards, and refused (<see cref="FormatProtectionException"/>, EPERM at a mount) when QEMU's probe would
/// then take the file for another format; otherwise the next probe would open the guest's bytes as an image (with a
/// backing file of the guest's choosing). Writes to the first sector are serialised, so two partial writes cannot
/// assemble a header that neither would have been allowed to write alone.
/// </summary>
public sealed class RawDisk : IVirtualDisk
{
    private readonly IBlockDevice _device;
    private readonly long _length;
    private readonly bool _protectFirstSector;
    private readonly object _firstSectorGate = new();

    public RawDisk(IBlockDevice device, long? length = null, bool protectFirstSector = false)
    {
        _device = device;
        _length = length ?? device.Length;
        _protectFirstSector = protectFirstSector;
    }

    /// <summary>True when writes to the first sector are checked against QEMU's format probe.</summary>
    public bool ProtectsFirstSector => _protectFirstSector;

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
        if (!GuardsFirstSector(offset, data.Length))
        {
            _device.Write(offset, data);
            return;
        }

        lock (_firstSectorGate)
        {
            CheckFirstSector(offset, data.Length, data, zeros: false);
            _device.Write(offset, data);
        }
    }

    public void WriteZeroes(long offset, long length, bool mayUnmap)
    {
        CheckRange(offset, length);
        if (_device.IsReadOnly)
        {
            throw new ReadOnlyImageException(_device.Name);
        }

        // Zeroing the whole first sector cannot make it look like an image (an all-zero sector probes as raw).
        if (!GuardsFirstSector(offset, length) || (offset == 0 && length >= Math.Min(FormatProbe.SectorSize, _length)))
        {
            Zero(offset, length);
            return;
        }

        lock (_firstSectorGate)
        {
            CheckFirstSector(offset, length, [], zeros: true);
            Zero(offset, length);
        }
    }

    public void Discard(long offset, long length) => WriteZeroes(offset, length, mayUnmap: true);

    /// <summary>Syncs the file, giving the serving thread's turn to another first: nothing of a raw disk is locked meanwhile.</summary>
    public void Flush()
    {
        CpuTurns.BeforeBlocking();
        _device.Flush();
    }

    /// <summary>All of a raw disk is data at its own offset; only the host file knows its holes.</summary>
    public BlockStatus GetBlockStatus(long offset, long maxLength) =>
        new(Math.Min(maxLength, _length - offset), BlockStatusFlags.Allocated | BlockStatusFlags.Present | BlockStatusFlags.Data | BlockStatusFlags.RawLayer, 0, offset);

    public void Dispose() => _device.Dispose();

    private void Zero(long offset, long length)
    {
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

    /// <summary>A request that changes bytes of the first sector of a protected, writable disk.</summary>
    private bool GuardsFirstSector(long offset, long length) =>
        _protectFirstSector && length > 0 && offset < FormatProbe.SectorSize && !_device.IsReadOnly;

    /// <summary>
    /// Probes the first sector as it would be after writing <paramref name="data"/> (or <paramref name="zeros"/>) at
    /// <paramref name="offset"/>; throws when it would no longer be raw. Runs under <see cref="_firstSectorGate"/>.
    /// </summary>
    private void CheckFirstSector(long offset, long length, ReadOnlySpan<byte> data, bool zeros)
    {
        var sector = new byte[(int)Math.Min(FormatProbe.SectorSize, _length)];
        _device.Read(0, sector);
        int end = (int)Math.Min(sector.Length, offset + length);
        var target = sector.AsSpan((int)offset, end - (int)offset);
        if (zeros)
        {
            target.Clear();
        }
        else
        {
            data[..target.Length].CopyTo(target);
        }

        string format = FormatProbe.Detect(sector);
        if (format != "raw")
        {
            throw new FormatProtectionException(_device.Name, format);
        }
    }

    private void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > _length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"{_device.Name}: range {offset}+{length} is outside the {_length}-byte disk");
        }
    }
}
