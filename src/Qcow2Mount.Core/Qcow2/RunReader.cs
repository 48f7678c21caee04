using System.Buffers;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// The I/O over a mapped run (the reads of the read path and of copy-on-write alike): data from the data file,
/// zeros, the backing chain (zeros past its end or without one), or a slice of a decompressed cluster. Runs
/// without the metadata lock: the caller holds the guest range, so the mapping it read stays valid.
/// </summary>
internal sealed class RunReader
{
    private readonly IBlockDevice _file;
    private readonly IBlockDevice _data;
    private readonly ClusterGeometry _geo;
    private readonly byte _compressionType;
    private readonly IVirtualDisk? _backing;

    public RunReader(IBlockDevice file, IBlockDevice data, ClusterGeometry geo, byte compressionType, IVirtualDisk? backing)
    {
        _file = file;
        _data = data;
        _geo = geo;
        _compressionType = compressionType;
        _backing = backing;
    }

    public bool HasBacking => _backing is not null;

    /// <summary>Reads <paramref name="dest"/>.Length bytes of <paramref name="run"/> at guest <paramref name="at"/> (inside the run).</summary>
    /// <returns>Bytes that came from storage (data file, backing chain or compressed cluster); 0 for zeros.</returns>
    public int Read(in Mapping run, GuestOffset at, Span<byte> dest)
    {
        switch (run.State)
        {
            case SubclusterState.Normal:
                _data.Read(run.Host.Value, dest);
                return dest.Length;
            case SubclusterState.Compressed:
                var cluster = ArrayPool<byte>.Shared.Rent(_geo.ClusterSize);
                try
                {
                    var span = cluster.AsSpan(0, _geo.ClusterSize);
                    CompressedClusters.Decompress(_file, run.Entry, _geo, _compressionType, span, at.Value);
                    span.Slice(_geo.OffsetInCluster(at), dest.Length).CopyTo(dest);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(cluster);
                }

                return dest.Length;
            case SubclusterState.UnallocatedPlain:
            case SubclusterState.UnallocatedAlloc:
                return ReadBacking(at, dest);
            default:
                dest.Clear();
                return 0;
        }
    }

    /// <summary>Reads from the backing chain; past its end (or without one) the bytes are zeros.</summary>
    public int ReadBacking(GuestOffset at, Span<byte> dest)
    {
        if (_backing is null || at.Value >= _backing.Length)
        {
            dest.Clear();
            return 0;
        }

        int n = _backing.Read(at.Value, dest);
        dest[n..].Clear();
        return n;
    }

    /// <summary>True when the backing chain reads as zeros over [<paramref name="from"/>, <paramref name="to"/>).</summary>
    public bool BackingReadsZero(GuestOffset from, GuestOffset to)
    {
        if (to <= from || _backing is null || from.Value >= _backing.Length)
        {
            return true;
        }

        var buffer = new byte[to - from];
        ReadBacking(from, buffer);
        return !buffer.AsSpan().ContainsAnyExcept((byte)0);
    }
}
