using System.Buffers.Binary;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2.Check;

/// <summary>
/// Walks every structure of an image and counts, per host cluster, how many references it has (qemu-behaviour.md
/// §10): header, active L1 + L2 + data (compressed: every host cluster the bytes touch), each snapshot's tables and
/// data, the snapshot table, the refcount table and blocks, the bitmap directory/tables/data. Each entry is checked
/// on the way; problems are reported in qemu-img's words and counted as corruptions, and repaired in place when
/// <see cref="CheckRepair.Errors"/> allows and the repair is safe.
/// </summary>
internal sealed class ReferenceCounter
{
    private readonly IBlockDevice _file;
    private readonly Qcow2Header _header;
    private readonly ClusterGeometry _geo;
    private readonly CheckRepair _fix;
    private readonly Action<string>? _log;
    private readonly bool _externalData;
    private readonly long _fileLength;
    private List<long>? _recording;

    public ReferenceCounter(IBlockDevice file, Qcow2Header header, CheckRepair fix, Action<string>? log)
    {
        _file = file;
        _header = header;
        _geo = header.Geometry;
        _fix = fix;
        _log = log;
        _externalData = header.HasExternalDataFile;
        _fileLength = file.Length;
        NbClusters = _geo.ClustersFor(_fileLength);
        Refs = new ulong[NbClusters + 2];
    }

    /// <summary>Computed references per host cluster (valid below <see cref="NbClusters"/>).</summary>
    public ulong[] Refs { get; private set; }

    /// <summary>Clusters covered: the file's clusters, grown by references up to one cluster past its end.</summary>
    public long NbClusters { get; private set; }

    /// <summary>Clusters referenced as refcount table or refcount block (dropped when the structure is rebuilt).</summary>
    public List<long> RefcountStructureClusters { get; } = new();

    public long Corruptions { get; private set; }

    public long CorruptionsFixed { get; private set; }

    /// <summary>Something only a refcount rebuild can repair (a broken refcount table entry, a block with refcount ≠ 1).</summary>
    public bool RebuildNeeded { get; set; }

    public long AllocatedClusters { get; private set; }

    public long FragmentedClusters { get; private set; }

    public long CompressedClusters { get; private set; }

    public List<SnapshotTableEntry> Snapshots { get; private set; } = new();

    private bool FixErrors => (_fix & CheckRepair.Errors) != 0;

    public void CountAll()
    {
        Inc(0, _geo.ClusterSize);
        CountL1(_header.L1TableOffset, _header.L1Size, active: true);

        var (snapshots, tableLength) = SnapshotTable.Read(_file, _header);
        Snapshots = snapshots;
        if (_externalData && snapshots.Count > 0)
        {
            Error($"ERROR {snapshots.Count} snapshots in image with data file");
        }

        foreach (var sn in snapshots)
        {
            if (!_geo.IsClusterAligned(new HostOffset(sn.L1TableOffset)))
            {
                Error($"ERROR snapshot {sn.Id} ({sn.Name}) l1_offset={Hex0x(sn.L1TableOffset)}: L1 table is not cluster aligned; snapshot table entry corrupted");
                continue;
            }

            if ((long)sn.L1Size * 8 > (32L << 20))
            {
                Error($"ERROR snapshot {sn.Id} ({sn.Name}) l1_size={Hex0x(sn.L1Size)}: L1 table is too large; snapshot table entry corrupted");
                continue;
            }

            CountL1(sn.L1TableOffset, sn.L1Size, active: false);
        }

        Inc(_header.SnapshotsOffset, tableLength);

        _recording = RefcountStructureClusters;
        Inc(_header.RefcountTableOffset, (long)_header.RefcountTableClusters * _geo.ClusterSize);
        _recording = null;

        CountBitmaps();
        CountRefcountBlocks();
    }

    /// <summary>Adds one reference to every cluster of [offset, offset+size) (qemu's inc_refcounts, same limits and words).</summary>
    public void Inc(long offset, long size)
    {
        if (size <= 0)
        {
            return;
        }

        if (offset < 0 || offset + size - _fileLength >= _geo.ClusterSize)
        {
            Error($"ERROR: counting reference for region exceeding the end of the file by one cluster or more: offset 0x{offset:x} size 0x{size:x}");
            return;
        }

        var (firstCluster, lastCluster) = _geo.ClustersOf(new HostOffset(offset), size);
        for (long c = firstCluster.Index; c <= lastCluster.Index; c++)
        {
            if (c >= Refs.Length)
            {
                var grown = Refs;
                Array.Resize(ref grown, (int)Math.Max(c + 1, Refs.Length * 2L));
                Refs = grown;
            }

            if (c >= NbClusters)
            {
                NbClusters = c + 1;
            }

            if (Refs[c] >= _geo.MaxRefcount)
            {
                Error($"ERROR: overflow cluster offset={_geo.StartOf(new HostCluster(c))}");
                continue;
            }

            Refs[c]++;
            _recording?.Add(c);
        }
    }

    private void CountL1(long l1Offset, uint l1Size, bool active)
    {
        if ((long)l1Size * 8 > (32L << 20))
        {
            // QEMU's L1 limit; a larger table would only come from a hostile header.
            Error($"ERROR L1 table at 0x{l1Offset:x} with {l1Size} entries exceeds 32 MiB");
            return;
        }

        Inc(l1Offset, (long)l1Size * 8);
        if (l1Size == 0)
        {
            return;
        }

        var l1 = new byte[(long)l1Size * 8];
        _file.Read(l1Offset, l1);
        for (int i = 0; i < l1Size; i++)
        {
            var entry = new L1Entry(BinaryPrimitives.ReadUInt64BigEndian(l1.AsSpan(i * 8)));
            if (entry.HasReservedBits)
            {
                Error($"ERROR found L1 entry with reserved bits set: {entry.Raw:x16}");
            }

            if (!entry.HasL2Table)
            {
                continue;
            }

            var l2 = entry.L2Table;
            Inc(l2.Value, _geo.ClusterSize);
            if (!_geo.IsClusterAligned(l2))
            {
                Error($"ERROR l2_offset={l2.Value:x}: Table is not cluster aligned; L1 entry corrupted");
            }

            CountL2(l2, active);
        }
    }

    private void CountL2(HostOffset l2Offset, bool active)
    {
        // An unaligned table overlaps whatever follows it: report its entries, never write into it.
        bool writable = _geo.IsClusterAligned(l2Offset);
        var table = new byte[_geo.ClusterSize];
        _file.Read(l2Offset.Value, table);
        long nextContiguous = 0;
        int size = _geo.L2EntrySize;
        for (int i = 0; i < _geo.L2Entries; i++)
        {
            var entry = L2Entry.Read(table, i * size, _geo.ExtendedL2);
            bool changed = false;
            if (entry.IsCompressed)
            {
                if (_externalData)
                {
                    Error($"ERROR compressed cluster {i} with data file, entry=0x{entry.Raw:x}");
                    continue;
                }

                if (entry.IsCopied)
                {
                    var d0 = CompressedDescriptor.Decode(entry, _geo.ClusterBits);
                    if (Repair($"coffset={d0.HostOffset}: copied flag must never be set for compressed clusters", prefixColon: true))
                    {
                        entry = entry.WithCopied(false);
                        changed = true;
                    }
                }

                if (_geo.ExtendedL2 && entry.Bitmap != 0)
                {
                    bool fixedBitmap = Repair($"compressed cluster {i} with non-zero subcluster allocation bitmap, entry=0x{entry.Raw:x}", prefixColon: false);
                    if (fixedBitmap)
                    {
                        entry = entry with { Bitmap = 0 };
                        changed = true;
                    }
                    else if (_fix == CheckRepair.None)
                    {
                        // As qemu-img: the entry is not counted (so its clusters show up as leaked).
                        continue;
                    }
                }

                var d = CompressedDescriptor.Decode(entry, _geo.ClusterBits);
                Inc(d.HostOffset.Value, d.CompressedLength);
                if (active)
                {
                    AllocatedClusters++;
                    CompressedClusters++;
                    FragmentedClusters++;
                }
            }
            else
            {
                bool hasHost = SubclusterDecoder.HasHostCluster(entry, _externalData);
                bool invalid = SubclusterDecoder.IsInvalid(entry, _geo.ExtendedL2, _externalData);
                if (entry.HasReservedBits)
                {
                    Error($"ERROR found l2 entry with reserved bits set: {entry.Raw:x16}");
                }

                if (hasHost)
                {
                    long host = entry.HostClusterOffset.Value;
                    if (invalid)
                    {
                        if (Repair($"offset={host:x}: Allocated cluster has corrupted subcluster allocation bitmap", prefixColon: false))
                        {
                            // The data is in the cluster: keep the allocation, drop the contradicting zero bits.
                            entry = entry.WithoutZeroBitsOfAllocated();
                            changed = true;
                        }
                    }

                    if (active)
                    {
                        AllocatedClusters++;
                        if (nextContiguous != 0 && host != nextContiguous)
                        {
                            FragmentedClusters++;
                        }

                        nextContiguous = host + _geo.ClusterSize;
                    }

                    bool count = !_externalData;
                    if (!_externalData && !_geo.IsClusterAligned(entry.HostClusterOffset))
                    {
                        bool preallocatedZero = !_geo.ExtendedL2 && SubclusterDecoder.Decode(entry, extendedL2: false, 0, _externalData) == SubclusterState.ZeroAlloc;
                        if (preallocatedZero)
                        {
                            if (Repair($"offset={host:x}: Preallocated cluster is not properly aligned; L2 entry corrupted.", prefixColon: false))
                            {
                                entry = L2Entry.ZeroPlainCluster;
                                changed = true;
                                count = false;
                            }
                        }
                        else
                        {
                            Error($"ERROR offset={host:x}: Data cluster is not properly aligned; L2 entry corrupted.");
                        }
                    }

                    if (count)
                    {
                        Inc(host, _geo.ClusterSize);
                    }
                }
                else if (invalid)
                {
                    if (Repair("Unallocated cluster has non-zero subcluster allocation map", prefixColon: true))
                    {
                        entry = entry.WithoutAllocationBits();
                        changed = true;
                    }
                }
            }

            if (changed && writable)
            {
                entry.Write(table, i * size, _geo.ExtendedL2);
                _file.Write(l2Offset.Value + ((long)i * size), table.AsSpan(i * size, size));
            }
        }
    }

    private void CountBitmaps()
    {
        if ((_header.AutoclearFeatures & FeatureBits.AutoclearBitmaps) == 0
            || _header.FindExtension(HeaderExtension.Bitmaps) is not { } ext)
        {
            return;
        }

        long dirSize = (long)BinaryPrimitives.ReadUInt64BigEndian(ext.Data.AsSpan(8));
        long dirOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(ext.Data.AsSpan(16));
        uint count = BinaryPrimitives.ReadUInt32BigEndian(ext.Data);
        if (dirSize <= 0 || dirSize > (64L << 20))
        {
            return;
        }

        Inc(dirOffset, dirSize);
        var dir = new byte[dirSize];
        _file.Read(dirOffset, dir);
        int pos = 0;
        for (uint b = 0; b < count && pos + 24 <= dir.Length; b++)
        {
            long tableOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(dir.AsSpan(pos));
            uint tableSize = BinaryPrimitives.ReadUInt32BigEndian(dir.AsSpan(pos + 8));
            int nameSize = BinaryPrimitives.ReadUInt16BigEndian(dir.AsSpan(pos + 18));
            uint extra = BinaryPrimitives.ReadUInt32BigEndian(dir.AsSpan(pos + 20));
            pos += (int)((24 + extra + nameSize + 7) & ~7u);
            Inc(tableOffset, (long)tableSize * 8);
            if ((long)tableSize * 8 > (64L << 20))
            {
                continue;
            }

            var table = new byte[(long)tableSize * 8];
            _file.Read(tableOffset, table);
            for (int i = 0; i < tableSize; i++)
            {
                var data = new BitmapTableEntry(BinaryPrimitives.ReadUInt64BigEndian(table.AsSpan(i * 8))).Data;
                if (data.Value != 0)
                {
                    Inc(data.Value, _geo.ClusterSize);
                }
            }
        }
    }

    private void CountRefcountBlocks()
    {
        var table = new OnDiskRefcounts(_file, _header).Table;
        for (long i = 0; i < table.Length; i++)
        {
            var entry = new RefcountTableEntry(table[i]);
            var block = entry.Block;
            long offset = block.Value;
            if (entry.HasReservedBits)
            {
                Error($"ERROR refcount table entry {i} has reserved bits set");
                RebuildNeeded = true;
                continue;
            }

            if (!_geo.IsClusterAligned(block))
            {
                Error($"ERROR refcount block {i} is not cluster aligned; refcount table entry corrupted");
                RebuildNeeded = true;
                continue;
            }

            if (offset == 0)
            {
                continue;
            }

            if (_geo.ClusterOf(block).Index >= NbClusters)
            {
                // Repaired by the rebuild (the block is replaced), as qemu-img grows the file and rebuilds.
                Report($"{(FixErrors ? "Repairing" : "ERROR")} refcount block {i} is outside image");
                if (FixErrors)
                {
                    CorruptionsFixed++;
                    RebuildNeeded = true;
                }
                else
                {
                    Corruptions++;
                }

                continue;
            }

            _recording = RefcountStructureClusters;
            Inc(offset, _geo.ClusterSize);
            _recording = null;
            long cluster = _geo.ClusterOf(block).Index;
            if (cluster < 0 || cluster >= Refs.Length)
            {
                continue; // Inc refused it (negative or past the end of the file) and reported that already
            }

            if (Refs[cluster] != 1)
            {
                Error($"ERROR refcount block {i} refcount={Refs[cluster]}");
                RebuildNeeded = true;
            }
        }
    }

    /// <summary>Reports a repairable problem: repaired when errors may be fixed (true), else counted as a corruption.</summary>
    private bool Repair(string what, bool prefixColon)
    {
        if (FixErrors)
        {
            Report($"Repairing{(prefixColon ? ":" : "")} {what}");
            CorruptionsFixed++;
            return true;
        }

        Error($"ERROR{(prefixColon ? ":" : "")} {what}");
        return false;
    }

    private void Error(string message)
    {
        Report(message);
        Corruptions++;
    }

    private void Report(string message) => _log?.Invoke(message);

    private static string Hex0x(long value) => value == 0 ? "0" : $"0x{value:x}";

    private static string Hex0x(ulong value) => value == 0 ? "0" : $"0x{value:x}";
}
