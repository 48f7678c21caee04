using System.Buffers;
using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>The read path and block status: translate under the metadata lock, then I/O without it.</summary>
public sealed partial class Qcow2Image
{
    public int Read(long offset, Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);

        int count = (int)Math.Clamp(Length - offset, 0, buffer.Length);
        if (count == 0)
        {
            return 0;
        }

        using var lease = _ranges.Acquire(_geo.ClusterStart(offset), offset + count, exclusive: false);
        ReadUnlocked(offset, buffer[..count]);
        return count;
    }

    /// <summary>Reads guest bytes; the caller holds the guest range (shared or exclusive).</summary>
    private void ReadUnlocked(long offset, Span<byte> buffer)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            Run run;
            lock (_metaLock)
            {
                run = Translate(offset + done, buffer.Length - done);
            }

            var dest = buffer.Slice(done, (int)run.Length);
            ReadRun(run, offset + done, dest);
            done += dest.Length;
        }
    }

    private void ReadRun(Run run, long guestOffset, Span<byte> dest)
    {
        switch (run.Kind)
        {
            case RunKind.Data:
                _data.Read(run.HostOffset, dest);
                break;
            case RunKind.Zero:
                dest.Clear();
                break;
            case RunKind.Backing:
                ReadBacking(guestOffset, dest);
                break;
            case RunKind.Compressed:
                var cluster = ArrayPool<byte>.Shared.Rent(_geo.ClusterSize);
                try
                {
                    var span = cluster.AsSpan(0, _geo.ClusterSize);
                    CompressedClusters.Decompress(_file, run.Entry, _geo, _header.CompressionType, span, guestOffset);
                    span.Slice(_geo.OffsetInCluster(guestOffset), dest.Length).CopyTo(dest);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(cluster);
                }

                break;
        }
    }

    /// <summary>Reads from the backing chain; past its end (or without one) the bytes are zeros.</summary>
    private int ReadBacking(long guestOffset, Span<byte> dest)
    {
        if (_backing is null || guestOffset >= _backing.Length)
        {
            dest.Clear();
            return 0;
        }

        int n = _backing.Read(guestOffset, dest);
        dest[n..].Clear();
        return n;
    }

    public BlockStatus GetBlockStatus(long offset, long maxLength)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        maxLength = Math.Min(maxLength, Length - offset);
        if (maxLength <= 0)
        {
            return new BlockStatus(0, BlockStatusFlags.Zero);
        }

        Run run;
        lock (_metaLock)
        {
            run = Translate(offset, maxLength);
        }

        switch (run.Kind)
        {
            case RunKind.Data:
                return new BlockStatus(run.Length, BlockStatusFlags.Allocated | BlockStatusFlags.Data, 0, run.HostOffset);
            case RunKind.Compressed:
                return new BlockStatus(run.Length, BlockStatusFlags.Allocated | BlockStatusFlags.Data, 0, -1);
            case RunKind.Zero:
                return new BlockStatus(run.Length, BlockStatusFlags.Allocated | BlockStatusFlags.Zero, 0, -1);
            default:
                if (_backing is null || offset >= _backing.Length)
                {
                    return new BlockStatus(run.Length, BlockStatusFlags.Zero, _backing is null ? 0 : 1, -1);
                }

                var below = _backing.GetBlockStatus(offset, Math.Min(run.Length, _backing.Length - offset));
                // Allocated means "in this layer": what the backing chain holds is data (or zeros) below it.
                return below with { Flags = below.Flags & ~BlockStatusFlags.Allocated, Depth = below.Depth + 1 };
        }
    }
}
