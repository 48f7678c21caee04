using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// What the header places in the file, validated at open before anything is used (hostile input rule; spec §2, §4,
/// §5, §10): the virtual size against l1_size, every table cluster-aligned, inside the file and within QEMU's size
/// limits, the header, L1, refcount and snapshot tables and every snapshot's L1 table clear of each other. Reads the
/// active L1 table and the refcount table, and indexes every cluster that holds metadata.
/// </summary>
internal sealed class ImageLayout
{
    /// <summary>QEMU's limit on the L1 table (32 MiB of entries): bounds the memory a hostile header can claim.</summary>
    public const long MaxL1Bytes = 32L << 20;

    /// <summary>QEMU's limit on the refcount table (8 MiB).</summary>
    private const long MaxRefcountTableBytes = 8L << 20;

    /// <summary>QEMU's limits on the snapshot table: 65536 entries, 64 MiB in all (bounds what a hostile header can claim).</summary>
    private const uint MaxSnapshots = 65536;

    /// <summary>
    /// Snapshot L1 clusters, summed over all snapshots, that open will index (each goes into the metadata set).
    /// Far above any real image (64 snapshots of the largest L1 at 512-byte clusters); stops a table of 65536
    /// snapshots that all name one 32 MiB L1 from costing billions of set insertions.
    /// </summary>
    private const long MaxSnapshotL1Clusters = 1L << 22;

    private readonly IBlockDevice _file;
    private readonly Qcow2Header _header;
    private readonly ClusterGeometry _geo;

    private ImageLayout(IBlockDevice file, Qcow2Header header)
    {
        _file = file;
        _header = header;
        _geo = header.Geometry;
    }

    /// <summary>The internal snapshots, parsed and validated.</summary>
    public IReadOnlyList<SnapshotTableEntry> Snapshots { get; private set; } = [];

    /// <summary>Header, L1 table, refcount table and snapshot table: the structures the header places.</summary>
    public IReadOnlyList<(string Name, long Start, long End)> FixedRegions { get; private set; } = [];

    /// <summary>The snapshot opened instead of the live disk (<see cref="Read"/>'s selector), or null.</summary>
    public SnapshotTableEntry? Snapshot { get; private set; }

    /// <summary>The virtual size of what is opened: the header's, or the selected snapshot's (see <see cref="SnapshotSize"/>).</summary>
    public long VirtualSize { get; private set; }

    /// <summary>The L1 table walked: the active one's entries, or the selected snapshot's.</summary>
    public ulong[] L1 { get; private set; } = [];

    /// <summary>The refcount table's entries (checked one by one by the refcount manager).</summary>
    public ulong[] RefcountTable { get; private set; } = [];

    public MetadataClusters MetadataClusters { get; } = new();

    private string Name => _file.Name;

    /// <summary>
    /// Validates the layout <paramref name="header"/> gives <paramref name="file"/> and reads its tables; with
    /// <paramref name="snapshot"/>, that snapshot's L1 table (validated with the rest of the snapshot table) is the one
    /// walked, and the L2 tables it names are the ones indexed.
    /// </summary>
    public static ImageLayout Read(IBlockDevice file, Qcow2Header header, SnapshotSelector? snapshot = null)
    {
        var layout = new ImageLayout(file, header);
        long snapshotTableBytes = layout.Validate();
        layout.VirtualSize = header.Size;
        if (snapshot is null)
        {
            layout.L1 = layout.ReadTable(header.L1TableOffset, (long)header.L1Size * 8);
        }
        else
        {
            int index = snapshot.Find(layout.Snapshots);
            if (index < 0)
            {
                throw new SnapshotNotFoundException(snapshot.ToString() ?? string.Empty, $"{file.Name}: no snapshot matches {snapshot} ({layout.Snapshots.Count} snapshots; 'qemu-img snapshot -l' lists them)");
            }

            var sn = layout.Snapshots[index];
            layout.Snapshot = sn;
            layout.L1 = layout.ReadTable(sn.L1TableOffset, (long)sn.L1Size * 8);
            layout.VirtualSize = snapshot.KeepLiveSize ? header.Size : layout.CheckedSnapshotSize(index, sn);
        }

        layout.RefcountTable = layout.ReadTable(header.RefcountTableOffset, (long)header.RefcountTableClusters * layout._geo.ClusterSize);
        layout.CollectMetadataClusters(snapshotTableBytes);
        return layout;
    }

    /// <summary>
    /// A snapshot's virtual size (spec §10): extra data bytes 8–15; an entry too old to carry it (extra data shorter
    /// than 16 bytes, allowed in v2 images) has the image's size, as QEMU reads it.
    /// </summary>
    public static long SnapshotSize(SnapshotTableEntry snapshot, Qcow2Header header) => snapshot.DiskSize >= 0 ? snapshot.DiskSize : header.Size;

    /// <summary>A hostile snapshot size (negative as a signed number, not whole sectors, beyond what an L1 table may map) fails the open.</summary>
    private long CheckedSnapshotSize(int index, SnapshotTableEntry sn)
    {
        if (sn.ExtraData.Length >= 16)
        {
            ulong raw = BinaryPrimitives.ReadUInt64BigEndian(sn.ExtraData.AsSpan(8));
            if (raw > long.MaxValue || raw % 512 != 0 || (ulong)_geo.L1EntriesFor((long)Math.Min(raw, 1UL << 62)) * 8 > MaxL1Bytes)
            {
                throw new ImageFormatException($"{Name}: snapshot {index} (ID '{sn.Id}') disk size {raw} is invalid");
            }
        }

        return SnapshotSize(sn, _header);
    }

    /// <summary>Checks sizes, places and overlaps; returns the snapshot table's length.</summary>
    private long Validate()
    {
        long fileLength = _file.Length;
        int c = _geo.ClusterSize;
        var h = _header;
        if (h.Size < 0)
        {
            throw new ImageFormatException($"{Name}: virtual size {h.Size} is invalid");
        }

        long needed = _geo.L1EntriesFor(h.Size);
        if (h.L1Size < needed)
        {
            throw new ImageFormatException($"{Name}: l1_size {h.L1Size} is too small for the virtual size {h.Size} (needs {needed})");
        }

        if ((long)h.L1Size * 8 > MaxL1Bytes)
        {
            throw new ImageFormatException($"{Name}: l1_size {h.L1Size} exceeds the {MaxL1Bytes >> 20} MiB limit");
        }

        CheckTable("l1_table_offset", h.L1TableOffset, (long)h.L1Size * 8, h.L1Size > 0, fileLength);
        if (h.RefcountTableClusters == 0)
        {
            throw new ImageFormatException($"{Name}: refcount_table_clusters is 0");
        }

        long reftableBytes = (long)h.RefcountTableClusters * c;
        if (reftableBytes > MaxRefcountTableBytes)
        {
            throw new ImageFormatException($"{Name}: refcount_table_clusters {h.RefcountTableClusters} exceeds the {MaxRefcountTableBytes >> 20} MiB limit");
        }

        CheckTable("refcount_table_offset", h.RefcountTableOffset, reftableBytes, true, fileLength);
        if (h.SnapshotCount > MaxSnapshots)
        {
            throw new ImageFormatException($"{Name}: nb_snapshots {h.SnapshotCount} exceeds {MaxSnapshots}");
        }

        CheckTable("snapshots_offset", h.SnapshotsOffset, h.SnapshotCount > 0 ? SnapshotTableEntry.FixedLength : 0, h.SnapshotCount > 0, fileLength);
        var (snapshots, snapshotBytes) = SnapshotTable.Read(_file, h);
        Snapshots = snapshots;

        var regions = Regions(snapshotBytes);
        FixedRegions = regions;
        for (int i = 0; i < regions.Count; i++)
        {
            for (int j = i + 1; j < regions.Count; j++)
            {
                if (regions[i].Start < regions[j].End && regions[j].Start < regions[i].End)
                {
                    throw new ImageFormatException($"{Name}: {regions[j].Name} at 0x{regions[j].Start:x} overlaps the {regions[i].Name}");
                }
            }
        }

        long snapshotL1Clusters = 0;
        for (int i = 0; i < snapshots.Count; i++)
        {
            var sn = snapshots[i];
            string field = $"snapshot {i} l1_table_offset";
            if ((long)sn.L1Size * 8 > MaxL1Bytes)
            {
                throw new ImageFormatException($"{Name}: snapshot {i} l1_size {sn.L1Size} exceeds the {MaxL1Bytes >> 20} MiB limit");
            }

            CheckTable(field, sn.L1TableOffset, (long)sn.L1Size * 8, sn.L1Size > 0, fileLength);
            if (sn.L1Size == 0)
            {
                continue;
            }

            snapshotL1Clusters += _geo.ClustersFor((long)sn.L1Size * 8);
            if (snapshotL1Clusters > MaxSnapshotL1Clusters)
            {
                throw new ImageFormatException($"{Name}: snapshot L1 tables up to snapshot {i} take more than {MaxSnapshotL1Clusters} clusters");
            }

            long end = sn.L1TableOffset + ((long)sn.L1Size * 8);
            foreach (var r in regions)
            {
                if (sn.L1TableOffset < r.End && r.Start < end)
                {
                    throw new ImageFormatException($"{Name}: {field} 0x{sn.L1TableOffset:x} overlaps the {r.Name}");
                }
            }
        }

        return snapshotBytes;
    }

    private List<(string Name, long Start, long End)> Regions(long snapshotTableBytes)
    {
        var h = _header;
        var regions = new List<(string Name, long Start, long End)> { ("header", 0, _geo.ClusterSize) };
        if (h.L1Size > 0)
        {
            regions.Add(("L1 table", h.L1TableOffset, h.L1TableOffset + ((long)h.L1Size * 8)));
        }

        regions.Add(("refcount table", h.RefcountTableOffset, h.RefcountTableOffset + ((long)h.RefcountTableClusters * _geo.ClusterSize)));
        if (h.SnapshotCount > 0)
        {
            regions.Add(("snapshot table", h.SnapshotsOffset, h.SnapshotsOffset + snapshotTableBytes));
        }

        return regions;
    }

    private void CheckTable(string field, long offset, long length, bool present, long fileLength)
    {
        if (!present)
        {
            return;
        }

        // Offset 0 is aligned: the overlap check then names what it collides with (the header).
        if (offset < 0 || !_geo.IsClusterAligned(new HostOffset(offset)))
        {
            throw new ImageFormatException($"{Name}: {field} 0x{offset:x} is not a cluster-aligned offset");
        }

        if (offset > fileLength || length > fileLength - offset)
        {
            throw new ImageFormatException($"{Name}: {field} 0x{offset:x} (+{length} bytes) lies beyond the end of the file ({fileLength} bytes)");
        }
    }

    /// <summary>A table of big-endian 64-bit entries, read straight into the array that holds it.</summary>
    private ulong[] ReadTable(long offset, long bytes)
    {
        var table = new ulong[bytes / 8];
        _file.Read(offset, MemoryMarshal.AsBytes(table.AsSpan()));
        if (BitConverter.IsLittleEndian)
        {
            // One bswap per entry: the span overload's vector shuffle is a call in this build (0.2 ms per mount, perf).
            for (int i = 0; i < table.Length; i++)
            {
                table[i] = BinaryPrimitives.ReverseEndianness(table[i]);
            }
        }

        return table;
    }

    /// <summary>Clusters holding metadata: a write of guest data there would destroy the image (overlap check).</summary>
    private void CollectMetadataClusters(long snapshotTableBytes)
    {
        var h = _header;
        var set = MetadataClusters;
        set.Add(new HostCluster(0));
        set.AddRange(_geo, new HostOffset(h.L1TableOffset), (long)h.L1Size * 8);
        set.AddRange(_geo, new HostOffset(h.RefcountTableOffset), (long)h.RefcountTableClusters * _geo.ClusterSize);
        // Offsets that are unaligned or past the end fail when used; only plausible ones are indexed, which keeps
        // this set no larger than the file has clusters.
        long fileLength = _file.Length;
        foreach (ulong e in RefcountTable)
        {
            var block = new RefcountTableEntry(e).Block;
            if (block.Value > 0 && block.Value < fileLength && _geo.IsClusterAligned(block))
            {
                set.Add(_geo.ClusterOf(block));
            }
        }

        if (h.SnapshotCount > 0)
        {
            set.AddRange(_geo, new HostOffset(h.SnapshotsOffset), snapshotTableBytes);
            foreach (var sn in Snapshots)
            {
                if (sn.L1Size > 0)
                {
                    set.AddRange(_geo, new HostOffset(sn.L1TableOffset), (long)sn.L1Size * 8);
                }
            }
        }

        foreach (ulong e in L1)
        {
            var table = new L1Entry(e).L2Table;
            if (table.Value > 0 && table.Value < fileLength && _geo.IsClusterAligned(table))
            {
                set.AddL2Table(_geo.ClusterOf(table));
            }
        }
    }
}
