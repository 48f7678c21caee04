using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// Guest → host translation: the one walker over the L1 and L2 tables (and, for block status, the backing chain).
/// <see cref="Map"/> turns a guest range into its first run of one subcluster state; every reader of the mapping
/// (reads, in-place writes, zeroing, block status for mounts and every tool) asks it. Runs come from whole L2
/// slices and from the subcluster bitmaps a run at a time (<see cref="SubclusterDecoder.DecodeRun"/>); a range no L2
/// table maps is one unallocated run. States with a host cluster continue only host-contiguously; a compressed
/// cluster is a run of its own. An entry that decodes as invalid, or a zero flag in a version 2 image, is corruption.
/// Metadata lock held for <see cref="Map"/>; <see cref="Status"/> takes it itself.
/// </summary>
internal sealed class ClusterMapper
{
    private readonly object _metaLock;
    private readonly L2Tables _tables;
    private readonly ClusterGeometry _geo;
    private readonly int _version;
    private readonly bool _externalData;
    private readonly IVirtualDisk? _backing;
    private readonly string _name;

    public ClusterMapper(object metaLock, L2Tables tables, ClusterGeometry geo, int version, bool externalData, IVirtualDisk? backing, string name)
    {
        _metaLock = metaLock;
        _tables = tables;
        _geo = geo;
        _version = version;
        _externalData = externalData;
        _backing = backing;
        _name = name;
    }

    /// <summary>The run starting at <paramref name="offset"/>, at most <paramref name="maxLength"/> (≥ 1) bytes long.</summary>
    public Mapping Map(GuestOffset offset, long maxLength)
    {
        var end = offset + maxLength;
        var pos = offset;
        var run = default(Mapping);
        long length = 0;
        while (pos < end)
        {
            var table = _tables.TableFor(pos);
            if (table.IsNone)
            {
                // No L2 table: the whole range it would map is unallocated.
                var stop = GuestOffset.Min(_geo.NextL2TableStart(pos), end);
                if (!Continues(ref run, ref length, new Mapping(SubclusterState.UnallocatedPlain, stop - pos, HostOffset.None, default)))
                {
                    break;
                }

                pos = stop;
                continue;
            }

            var (slice, index) = _tables.Slice(table, pos);
            for (; index < slice.Length && pos < end; index += _geo.L2EntrySize)
            {
                var entry = _tables.Read(slice, index);
                _tables.Validate(entry, pos);
                var piece = RunIn(entry, pos, end - pos);
                if (!Continues(ref run, ref length, piece))
                {
                    return run with { Length = length };
                }

                pos += piece.Length;
                if (piece.State == SubclusterState.Compressed || !_geo.IsClusterAligned(pos))
                {
                    // A compressed cluster is a run of its own; a run that ends inside its cluster ends there.
                    return run with { Length = length };
                }
            }
        }

        return run with { Length = length };
    }

    /// <summary>
    /// The run from <paramref name="offset"/> inside its cluster under <paramref name="entry"/> (validated by the
    /// caller), at most <paramref name="maxLength"/> bytes: up to where the subcluster state changes, or the cluster's end.
    /// </summary>
    public Mapping RunIn(L2Entry entry, GuestOffset offset, long maxLength)
    {
        int inCluster = _geo.OffsetInCluster(offset);
        var state = SubclusterDecoder.DecodeRun(entry, _geo.ExtendedL2, _geo.SubclusterOf(inCluster), _externalData, out int end);
        if (state == SubclusterState.Invalid)
        {
            throw new ImageCorruptException($"{_name}: L2 entry for guest offset {_geo.ClusterStart(offset)} has a subcluster both allocated and zero, or allocated without a host cluster", offset.Value);
        }

        if (!_geo.ExtendedL2 && _version == 2 && state.ReadsAsZero())
        {
            throw new ImageCorruptException($"{_name}: zero cluster entry found in a version 2 image at guest offset {_geo.ClusterStart(offset)}", offset.Value);
        }

        int stop = state == SubclusterState.Compressed ? _geo.ClusterSize : _geo.SubclusterStart(end);
        var host = state.HasHostCluster() ? HostClusterOf(entry, offset) + inCluster : HostOffset.None;
        return new Mapping(state, Math.Min(stop - inCluster, maxLength), host, entry);
    }

    /// <summary>
    /// How many bytes from <paramref name="offset"/> can be written in place, and where: data subclusters of COPIED
    /// clusters, host-contiguous (0 when the first byte cannot). Metadata lock held.
    /// </summary>
    public (HostOffset Host, int Length) InPlaceRun(GuestOffset offset, int maxLength)
    {
        var host = HostOffset.None;
        int length = 0;
        while (length < maxLength)
        {
            var pos = offset + length;
            int n = Math.Min(maxLength - length, _geo.ClusterSize - _geo.OffsetInCluster(pos));
            var entry = _tables.Get(pos);
            if (!entry.IsCopied || !SubclusterDecoder.HasHostCluster(entry, _externalData))
            {
                break; // shared with a snapshot, compressed or unallocated: the writer must allocate
            }

            var m = RunIn(entry, pos, n);
            if (m.State != SubclusterState.Normal || m.Length < n || (length > 0 && m.Host != host + length))
            {
                break;
            }

            if (length == 0)
            {
                host = m.Host;
            }

            length += n;
        }

        return (host, length);
    }

    /// <summary>
    /// Block status of the run at <paramref name="offset"/> (at most <paramref name="maxLength"/> bytes; never empty
    /// inside a disk of <paramref name="diskLength"/> bytes): this image's mapping, and where it allocates nothing, the
    /// backing chain's answer one layer deeper (zeros past its end or without one).
    /// </summary>
    public BlockStatus Status(GuestOffset offset, long maxLength, long diskLength)
    {
        maxLength = Math.Min(maxLength, diskLength - offset.Value);
        if (maxLength <= 0)
        {
            return new BlockStatus(0, BlockStatusFlags.Zero);
        }

        Mapping m;
        lock (_metaLock)
        {
            m = Map(offset, maxLength);
        }

        const BlockStatusFlags here = BlockStatusFlags.Allocated | BlockStatusFlags.Present;
        switch (m.State)
        {
            case SubclusterState.Normal:
            case SubclusterState.Compressed:
                return new BlockStatus(m.Length, here | BlockStatusFlags.Data, 0, m.Host.Value);
            case SubclusterState.ZeroPlain:
            case SubclusterState.ZeroAlloc:
                return new BlockStatus(m.Length, here | BlockStatusFlags.Zero, 0, m.Host.Value);
        }

        if (_backing is null || offset.Value >= _backing.Length)
        {
            return new BlockStatus(m.Length, BlockStatusFlags.Zero, 0, m.Host.Value);
        }

        var below = _backing.GetBlockStatus(offset.Value, Math.Min(m.Length, _backing.Length - offset.Value));
        // Allocated means "in this layer": what the backing chain holds is decided one layer (or more) below.
        return below with { Flags = below.Flags & ~BlockStatusFlags.Allocated, Depth = below.Depth + 1 };
    }

    /// <summary>Host cluster of an entry with one; with an external data file the guest cluster's own offset.</summary>
    public HostOffset HostClusterOf(L2Entry entry, GuestOffset offset) =>
        _externalData ? new HostOffset(_geo.ClusterStart(offset).Value) : entry.HostClusterOffset;

    /// <summary>Adds <paramref name="piece"/> to the run when it continues it (same state, host-contiguous); false otherwise.</summary>
    private static bool Continues(ref Mapping run, ref long length, in Mapping piece)
    {
        if (length == 0)
        {
            run = piece;
            length = piece.Length;
            return true;
        }

        if (piece.State != run.State || piece.State == SubclusterState.Compressed
            || (piece.State.HasHostCluster() && piece.Host != run.Host + length))
        {
            return false;
        }

        length += piece.Length;
        return true;
    }
}
