using System.Buffers;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Allocation;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// Writing compressed clusters (spec §8; qemu-behaviour.md §3.2 last bullet): whole clusters only, onto clusters
/// with no host cluster. Each cluster is compressed with the image's type (<see cref="CompressedClusters"/>); it is
/// stored compressed only if that takes at most cluster_size − 1 bytes, else written normally (through
/// <see cref="CopyOnWrite"/>), as are clusters that already have a host cluster. Compressed clusters are packed back
/// to back, possibly running into the next host cluster, and from one write to the next (qemu-img convert -c packs the
/// whole image so; starting every write on a fresh cluster left half a cluster empty per run of data, 1.8 % of a
/// converted disk); every host cluster a compressed cluster touches gets one reference from it. The rest of a host
/// cluster is used only while no cluster has been freed since, so it can never be a freed and reused cluster. Order: refcounts are raised first, the compressed bytes are written before the L2 entry that
/// points at them, and the L2 cache makes them stable before that entry reaches disk (<see cref="WriteOrder"/>).
/// </summary>
internal sealed class CompressedWriter
{
    private readonly object _metaLock;
    private readonly GuestRangeLock _ranges;
    private readonly L2Tables _tables;
    private readonly ClusterAllocator _allocator;
    private readonly CopyOnWrite _cow;
    private readonly WriteOrder _order;
    private readonly IBlockDevice _file;
    private readonly ClusterGeometry _geo;
    private readonly byte _compressionType;
    private readonly bool _externalData;
    private readonly Qcow2Statistics _statistics;

    /// <summary>The next free byte after the last compressed cluster written (none at first); metadata lock.</summary>
    private HostOffset _packing = HostOffset.None;

    /// <summary><see cref="ClusterAllocator.FreedCount"/> when <see cref="_packing"/> was set.</summary>
    private long _packingFreed;

    public CompressedWriter(object metaLock, GuestRangeLock ranges, L2Tables tables, ClusterAllocator allocator, CopyOnWrite cow, WriteOrder order, IBlockDevice file, ClusterGeometry geo, byte compressionType, bool externalData, Qcow2Statistics statistics)
    {
        _metaLock = metaLock;
        _ranges = ranges;
        _tables = tables;
        _allocator = allocator;
        _cow = cow;
        _order = order;
        _file = file;
        _geo = geo;
        _compressionType = compressionType;
        _externalData = externalData;
        _statistics = statistics;
    }

    /// <summary>
    /// Writes <paramref name="data"/> (a whole number of clusters starting at a cluster boundary; the last cluster of
    /// a disk of <paramref name="diskLength"/> bytes may be partial) compressed where it pays off.
    /// </summary>
    public void Write(GuestOffset offset, ReadOnlySpan<byte> data, long diskLength)
    {
        int cs = _geo.ClusterSize;
        if (!_geo.IsClusterAligned(offset) || (data.Length % cs != 0 && offset.Value + data.Length != diskLength))
        {
            throw new ArgumentException($"{_file.Name}: compressed writes must cover whole clusters (offset {offset.Value}, length {data.Length})", nameof(data));
        }

        if (_externalData)
        {
            throw new UnsupportedFeatureException($"{_file.Name}: compressed clusters are not allowed with an external data file");
        }

        if (data.IsEmpty)
        {
            return;
        }

        int clusters = (data.Length + cs - 1) / cs;
        int bound = CompressedClusters.OutputBound(cs);
        var lengths = new int[clusters];
        byte[] output = ArrayPool<byte>.Shared.Rent(checked(clusters * bound));
        try
        {
            var padded = new byte[cs];
            for (int i = 0; i < clusters; i++)
            {
                var cluster = data.Slice(i * cs, Math.Min(cs, data.Length - (i * cs)));
                if (cluster.Length < cs)
                {
                    Array.Clear(padded);
                    cluster.CopyTo(padded);
                    cluster = padded;
                }

                lengths[i] = CompressedClusters.TryCompress(cluster, _compressionType, limit: cs, output.AsSpan(i * bound, bound));
            }

            using var lease = _ranges.Acquire(offset.Value, offset.Value + ((long)clusters * cs), exclusive: true);
            var normal = new List<int>();
            lock (_metaLock)
            {
                var packing = _allocator.FreedCount == _packingFreed ? _packing : HostOffset.None;
                for (int i = 0; i < clusters; i++)
                {
                    var guest = offset + ((long)i * cs);
                    var l2Table = _tables.MakeWritable(guest);
                    var old = _tables.Get(guest);
                    if (lengths[i] < 0 || old.IsCompressed || SubclusterDecoder.HasHostCluster(old, externalData: false))
                    {
                        normal.Add(i);
                        continue;
                    }

                    var bytes = output.AsSpan(i * bound, lengths[i]);
                    var host = AllocateBytes(bytes.Length, ref packing, guest);
                    _file.Write(host.Value, bytes);
                    _order.NoteDataWritten();
                    _statistics.AddDataWritten(bytes.Length);
                    _tables.Set(l2Table, guest, CompressedDescriptor.Encode(host, bytes.Length, _geo.ClusterBits));
                }

                _packing = packing;
                _packingFreed = _allocator.FreedCount;
            }

            // Runs of neighbouring clusters stored normally go out as one write (one allocation, one pwrite).
            for (int k = 0; k < normal.Count;)
            {
                int first = normal[k], last = first;
                while (++k < normal.Count && normal[k] == last + 1)
                {
                    last++;
                }

                int start = first * cs, end = Math.Min((last + 1) * cs, data.Length);
                _cow.Write(offset + start, data[start..end]);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(output);
        }
    }

    /// <summary>
    /// Host bytes for one compressed cluster, packed after the previous one (<paramref name="packing"/> = next free
    /// byte, none at first) when it fits in that host cluster or the next cluster is the one the allocator hands out.
    /// Metadata lock held.
    /// </summary>
    private HostOffset AllocateBytes(int length, ref HostOffset packing, GuestOffset guest)
    {
        HostOffset host;
        // Share the partly used host cluster only while its refcount can take one more reference.
        var shared = _geo.ClusterOf(packing);
        if (!packing.IsNone && !_geo.IsClusterAligned(packing) && _allocator.GetRefcount(shared) < _geo.MaxRefcount)
        {
            var clusterEnd = _geo.ClusterStart(packing) + _geo.ClusterSize;
            if (packing + length <= clusterEnd)
            {
                _allocator.AddReference(shared);
                host = packing;
            }
            else
            {
                var next = _allocator.AllocateData(guest);
                if (next == clusterEnd)
                {
                    _allocator.AddReference(shared);
                    host = packing;
                }
                else
                {
                    host = next;
                }
            }
        }
        else
        {
            host = _allocator.AllocateData(guest);
        }

        packing = host + length;
        return host;
    }
}
