using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// One extent as qemu-img map describes it: which layer of the chain (<see cref="Depth"/>) decides the content,
/// whether some layer allocates it (<see cref="Present"/>), whether it reads as zeros or holds data, and the host
/// offset when there is a single one (-1 otherwise). <see cref="RawLayer"/>: the extent lies in a raw backing file,
/// whose holes only the host file system knows (the caller refines Data/Zero with SEEK_DATA/SEEK_HOLE).
/// </summary>
public readonly record struct MapExtent(long Length, int Depth, bool Present, bool Zero, bool Data, long Offset, bool RawLayer = false);

/// <summary>Block status with the detail qemu-img map needs (depth, presence, offsets of zero and reserved clusters).</summary>
public sealed partial class Qcow2Image
{
    /// <summary>The extent starting at <paramref name="offset"/> (at most <paramref name="maxLength"/> bytes; never empty inside the disk).</summary>
    public MapExtent GetMapExtent(long offset, long maxLength)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        maxLength = Math.Min(maxLength, Length - offset);
        if (maxLength <= 0)
        {
            return new MapExtent(0, 0, false, true, false, -1);
        }

        SubclusterState state;
        long length, host;
        lock (_metaLock)
        {
            (state, length, host) = StateRun(offset, maxLength);
        }

        switch (state)
        {
            case SubclusterState.Normal:
                return new MapExtent(length, 0, true, false, true, host);
            case SubclusterState.Compressed:
                return new MapExtent(length, 0, true, false, true, -1);
            case SubclusterState.ZeroPlain:
                return new MapExtent(length, 0, true, true, false, -1);
            case SubclusterState.ZeroAlloc:
                return new MapExtent(length, 0, true, true, false, host);
        }

        // Not allocated here: the backing chain decides; past its end (or without one) the range reads as zeros.
        if (_backing is null || offset >= _backing.Length)
        {
            return new MapExtent(length, 0, false, true, false, state == SubclusterState.UnallocatedAlloc ? host : -1);
        }

        length = Math.Min(length, _backing.Length - offset);
        if (_backing is Qcow2Image below)
        {
            var e = below.GetMapExtent(offset, length);
            return e with { Depth = e.Depth + 1 };
        }

        return new MapExtent(length, 1, true, false, true, offset, RawLayer: true);
    }

    /// <summary>
    /// The longest run from <paramref name="offset"/> whose subclusters share one state (and, for states with a host
    /// cluster, continue host-contiguously); compressed clusters are one run each. Metadata lock held.
    /// </summary>
    private (SubclusterState State, long Length, long Host) StateRun(long offset, long maxLength)
    {
        SubclusterState first = default;
        long firstHost = -1;
        long length = 0;
        while (length < maxLength)
        {
            long pos = offset + length;
            if (L2TableFor(pos) == 0)
            {
                // No L2 table: the whole range it would map is unallocated.
                long tableEnd = (pos / _geo.BytesPerL2Table * _geo.BytesPerL2Table) + _geo.BytesPerL2Table;
                if (length > 0 && first != SubclusterState.UnallocatedPlain)
                {
                    break;
                }

                first = SubclusterState.UnallocatedPlain;
                length += Math.Min(tableEnd - pos, maxLength - length);
                continue;
            }

            var entry = GetL2Entry(pos);
            int inCluster = _geo.OffsetInCluster(pos);
            int sc = inCluster / _geo.SubclusterSize;
            var state = Decode(entry, sc, pos);
            bool hasHost = state is SubclusterState.Normal or SubclusterState.ZeroAlloc or SubclusterState.UnallocatedAlloc;
            long host = hasHost ? HostClusterOf(entry, pos) + inCluster : -1;
            if (length > 0 && (state != first || state == SubclusterState.Compressed || (hasHost && host != firstHost + length)))
            {
                break;
            }

            if (length == 0)
            {
                first = state;
                firstHost = host;
            }

            int end = state == SubclusterState.Compressed ? _geo.ClusterSize : (sc + 1) * _geo.SubclusterSize;
            while (end < _geo.ClusterSize && Decode(entry, end / _geo.SubclusterSize, pos) == state)
            {
                end += _geo.SubclusterSize;
            }

            length += Math.Min(end - inCluster, maxLength - length);
            if (state == SubclusterState.Compressed || end < _geo.ClusterSize)
            {
                break;
            }
        }

        return (first, length, firstHost);
    }
}
