using System.Buffers.Binary;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2.Check;

/// <summary>
/// The refcounts as the image file records them, read straight from the refcount table and blocks (no engine, so
/// a damaged image can be inspected). Reserved bits in a table entry are masked; an unaligned block cannot be read.
/// Also writes single refcounts back for in-place repairs.
/// </summary>
internal sealed class OnDiskRefcounts
{
    private readonly IBlockDevice _file;
    private readonly ClusterGeometry _geo;
    private readonly Dictionary<long, byte[]> _blocks = new();
    private readonly HashSet<long> _dirty = new();

    public OnDiskRefcounts(IBlockDevice file, Qcow2Header header)
    {
        _file = file;
        _geo = header.Geometry;
        if ((long)header.RefcountTableClusters * _geo.ClusterSize > (8L << 20))
        {
            throw new Errors.ImageFormatException($"{file.Name}: refcount_table_clusters {header.RefcountTableClusters} exceeds the 8 MiB limit");
        }

        var bytes = new byte[(long)header.RefcountTableClusters * _geo.ClusterSize];
        file.Read(header.RefcountTableOffset, bytes);
        Table = new ulong[bytes.Length / 8];
        for (int i = 0; i < Table.Length; i++)
        {
            Table[i] = BinaryPrimitives.ReadUInt64BigEndian(bytes.AsSpan(i * 8));
        }
    }

    public ulong[] Table { get; }

    /// <summary>The refcount of a cluster; false when its refcount block cannot be read (unaligned).</summary>
    public bool TryGet(long cluster, out ulong refcount)
    {
        refcount = 0;
        var block = Block(cluster, out bool readable);
        if (!readable)
        {
            return false;
        }

        if (block is not null)
        {
            refcount = RefcountBlock.Get(block, _geo.RefblockIndex(new HostCluster(cluster)), _geo.RefcountOrder);
        }

        return true;
    }

    /// <summary>Changes a refcount in its existing block (written by <see cref="WriteBack"/>); false when the cluster has no usable block.</summary>
    public bool TrySet(long cluster, ulong value)
    {
        var block = Block(cluster, out bool readable);
        if (block is null || !readable)
        {
            return false;
        }

        RefcountBlock.Set(block, _geo.RefblockIndex(new HostCluster(cluster)), _geo.RefcountOrder, value);
        _dirty.Add(new RefcountTableEntry(Table[_geo.RefcountTableIndex(new HostCluster(cluster))]).Block.Value);
        return true;
    }

    /// <summary>Writes the blocks changed by <see cref="TrySet"/> and flushes the file.</summary>
    public void WriteBack()
    {
        foreach (long offset in _dirty.Order())
        {
            _file.Write(offset, _blocks[offset]);
        }

        if (_dirty.Count > 0)
        {
            _file.Flush();
        }

        _dirty.Clear();
    }

    private byte[]? Block(long cluster, out bool readable)
    {
        readable = true;
        long t = _geo.RefcountTableIndex(new HostCluster(cluster));
        if (t >= Table.Length)
        {
            return null;
        }

        var block = new RefcountTableEntry(Table[t]).Block;
        long offset = block.Value;
        if (offset == 0)
        {
            return null;
        }

        if (!_geo.IsClusterAligned(block) || offset < 0)
        {
            readable = false; // unaligned, or bit 63 set (no file has such an offset)
            return null;
        }

        if (!_blocks.TryGetValue(offset, out var data))
        {
            data = new byte[_geo.ClusterSize];
            _file.Read(offset, data);
            _blocks[offset] = data;
        }

        return data;
    }
}
