using System.Buffers.Binary;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// Changing the virtual size (qemu-behaviour.md §6.4, §5). Growing: when more L1 entries are needed a new,
/// exact-size L1 table is allocated, written and flushed before one header write switches l1_size, l1_table_offset
/// and size; the old table is freed after that. Shrinking: every cluster past the new end is fully discarded
/// (entry 0, so nothing stale can reappear), L2 tables wholly past it are unhooked from L1 and freed, then the
/// header takes the new size and the file is cut after its last used cluster.
/// The L1 array of this instance is fixed in size, so after <see cref="Resize"/> the instance is closed for writing:
/// reopen the image to use it.
/// </summary>
public sealed partial class Qcow2Image
{
    /// <summary>Sets the virtual size to <paramref name="newSize"/> (a multiple of 512). The caller reopens the image afterwards.</summary>
    internal void Resize(long newSize)
    {
        EnsureWritable();
        if (newSize <= 0 || newSize % 512 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(newSize), "the new size must be a positive multiple of 512");
        }

        if (_header.Version < 3 && _header.SnapshotCount > 0)
        {
            // A v2 snapshot records no disk size: QEMU could no longer apply it after the size changed.
            throw new UnsupportedFeatureException($"{Name}: Can't resize a v2 image which has snapshots");
        }

        long needed = _geo.L1EntriesFor(newSize);
        if (needed * 8 > MaxL1Bytes)
        {
            throw new ArgumentOutOfRangeException(nameof(newSize), "the new size is too large for this cluster size");
        }

        using var lease = _ranges.Acquire(0, long.MaxValue, exclusive: true);
        lock (_metaLock)
        {
            BeforeMetadataChange();
            FlushLocked();
            bool shrink = newSize < _header.Size;
            if (shrink)
            {
                ZeroTailOfLastCluster(newSize);
                DiscardBeyond(newSize);
            }

            if (needed > _l1.Length)
            {
                GrowL1(needed, newSize);
            }
            else
            {
                _header.Size = newSize;
                WriteHeader();
                _file.Flush();
            }

            if (_externalData && _header.IsDataFileRaw)
            {
                _data.SetLength(newSize);
                _data.Flush();
            }

            FlushLocked();
            if (shrink)
            {
                TruncateAfterLastUsedCluster();
                _file.FlushIfUnsynced();
            }

            // The L1 array cannot change length in place: no further writes through this instance, so this is its
            // clean close (Dispose skips a read-only image).
            ClearDirtyBit();
            _readOnly = true;
        }
    }

    /// <summary>Allocates and writes an L1 table of <paramref name="entries"/>, then switches the header to it (size included).</summary>
    private void GrowL1(long entries, long newSize)
    {
        long bytes = entries * 8;
        int clusters = (int)_geo.ClustersFor(bytes);
        long oldOffset = _header.L1TableOffset;
        long oldClusters = _geo.ClustersFor((long)_header.L1Size * 8);
        long table = _refcounts!.Allocate(clusters);
        MakeDataAndRefcountsStable();

        var content = new byte[(long)clusters * _geo.ClusterSize];
        for (int i = 0; i < _l1.Length; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(content.AsSpan(i * 8), _l1[i]);
        }

        _file.Write(table, content);
        _file.Flush();

        _header.L1Size = (uint)entries;
        _header.L1TableOffset = table;
        _header.Size = newSize;
        WriteHeader();
        _file.Flush();

        if (oldOffset != 0)
        {
            for (long c = 0; c < oldClusters; c++)
            {
                _refcounts.ScheduleFree((oldOffset >> _geo.ClusterBits) + c);
            }
        }
    }

    /// <summary>
    /// The part of the new last cluster past <paramref name="newSize"/> is zeroed (zero bits, zero flag or zero bytes,
    /// through the ordinary zero path) while it is still inside the disk. The discard that follows only covers whole
    /// clusters, so without this the bytes written there (any allocated subcluster, not only the one at the new end)
    /// would read back after a later grow, by us or by QEMU, which zeroes only an allocated run at the old end.
    /// </summary>
    private void ZeroTailOfLastCluster(long newSize)
    {
        long end = Math.Min(_header.Size, _geo.ClusterStart(newSize) + _geo.ClusterSize);
        if (_geo.IsClusterAligned(newSize) || end <= newSize)
        {
            return;
        }

        ZeroRange(newSize, end, mayUnmap: false);
    }

    /// <summary>Full discard of every cluster from the first cluster boundary at or after <paramref name="newSize"/>.</summary>
    private void DiscardBeyond(long newSize)
    {
        long start = (newSize + _geo.ClusterSize - 1) & ~(long)(_geo.ClusterSize - 1);
        long end = _header.Size;
        var emptiedTables = new List<long>();
        for (long pos = start; pos < end;)
        {
            long l1Index = _geo.L1Index(pos);
            long tableStart = l1Index * _geo.BytesPerL2Table;
            long tableEnd = tableStart + _geo.BytesPerL2Table;
            if (l1Index >= _l1.Length || L2TableFor(pos) == 0)
            {
                pos = tableEnd;
                continue;
            }

            long l2Table = EnsureL2Table(pos);
            for (long c = pos; c < Math.Min(end, tableEnd); c += _geo.ClusterSize)
            {
                var old = GetL2Entry(c);
                if (old.Raw != 0 || old.Bitmap != 0)
                {
                    WriteEntry(l2Table, c, default);
                    ReleaseOldCluster(old, c);
                }
            }

            if (start <= tableStart)
            {
                emptiedTables.Add(l1Index);
            }

            pos = tableEnd;
        }

        // L2 entries (and the data they no longer reference) first, then the L1 entries, then the frees.
        FlushLocked();
        Span<byte> zero = stackalloc byte[8];
        foreach (long i in emptiedTables)
        {
            long table = new L1Entry(_l1[i]).L2TableOffset;
            _l1[i] = 0;
            _file.Write(_header.L1TableOffset + (i * 8), zero);
            _refcounts!.ScheduleFree(table >> _geo.ClusterBits);
        }

        _file.Flush();
        _header.Size = newSize;
        WriteHeader();
        _file.Flush();
    }

    /// <summary>Cuts the file after the last cluster with a non-zero refcount (freed clusters at the end go away).</summary>
    private void TruncateAfterLastUsedCluster()
    {
        long last = _geo.ClustersFor(_file.Length) - 1;
        while (last > 0 && _refcounts!.GetRefcount(last) == 0)
        {
            last--;
        }

        long length = (last + 1) << _geo.ClusterBits;
        if (length < _file.Length)
        {
            _file.SetLength(length);
        }
    }

    /// <summary>True when a backing disk is open; <paramref name="length"/> is its size.</summary>
    internal bool FollowsBacking(out long length)
    {
        length = _backing?.Length ?? 0;
        return _backing is not null;
    }
}
