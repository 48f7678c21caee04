using System.IO.Compression;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Format;
using ZstdSharp;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// Writing compressed clusters (spec §8; qemu-behaviour.md §3.2 last bullet): whole clusters only, onto clusters
/// with no host cluster. Each cluster is compressed with the image's type (raw deflate or a zstd frame); it is
/// stored compressed only if that takes at most cluster_size − 1 bytes, else written normally. Compressed clusters
/// are packed back to back, possibly running into the next host cluster; every host cluster a compressed cluster
/// touches gets one reference from it. Order: compressed bytes are written before the L2 entry that points at them
/// (the L2 cache's write-back prerequisite makes them stable first); refcounts are raised before either.
/// </summary>
public sealed partial class Qcow2Image
{
    /// <summary>
    /// Writes <paramref name="data"/> (a whole number of clusters starting at a cluster boundary; the last cluster of
    /// the disk may be partial) compressed where it pays off. Clusters that already have a host cluster are
    /// written normally instead.
    /// </summary>
    public void WriteCompressed(long offset, ReadOnlySpan<byte> data)
    {
        EnsureWritable();
        CheckRange(offset, data.Length);
        int cs = _geo.ClusterSize;
        if (!_geo.IsClusterAligned(offset) || (data.Length % cs != 0 && offset + data.Length != Length))
        {
            throw new ArgumentException($"{Name}: compressed writes must cover whole clusters (offset {offset}, length {data.Length})", nameof(data));
        }

        if (_externalData)
        {
            throw new UnsupportedFeatureException($"{Name}: compressed clusters are not allowed with an external data file");
        }

        if (data.IsEmpty)
        {
            return;
        }

        int clusters = (data.Length + cs - 1) / cs;
        var compressed = new byte[]?[clusters];
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

            var bytes = Compress(cluster, _header.CompressionType);
            compressed[i] = bytes.Length <= cs - 1 ? bytes : null;
        }

        long end = offset + ((long)clusters * cs);
        try
        {
            using var lease = _ranges.Acquire(offset, end, exclusive: true);
            var normal = new List<int>();
            lock (_metaLock)
            {
                long packing = 0;
                for (int i = 0; i < clusters; i++)
                {
                    long guest = offset + ((long)i * cs);
                    long l2Table = EnsureL2Table(guest);
                    var old = GetL2Entry(guest);
                    if (compressed[i] is not { } bytes || old.IsCompressed || old.HostClusterOffset != 0)
                    {
                        normal.Add(i);
                        continue;
                    }

                    long host = AllocateCompressedBytes(bytes.Length, ref packing, guest);
                    _file.Write(host, bytes);
                    Volatile.Write(ref _dataWritten, 1);
                    Statistics.AddDataWritten(bytes.Length);
                    WriteEntry(l2Table, guest, new L2Entry(CompressedDescriptor.Encode(host, bytes.Length, _geo.ClusterBits), 0));
                }
            }

            foreach (int i in normal)
            {
                int start = i * cs;
                WriteExclusive(offset + start, data.Slice(start, Math.Min(cs, data.Length - start)));
            }
        }
        catch (ImageCorruptException)
        {
            SignalCorruption();
            throw;
        }

        MaybeFlushDeferredFrees();
    }

    /// <summary>The compressed form of one cluster: raw deflate (no zlib header) or one zstd frame.</summary>
    internal static byte[] Compress(ReadOnlySpan<byte> cluster, byte compressionType)
    {
        if (compressionType == 1)
        {
            using var zstd = new Compressor();
            return zstd.Wrap(cluster).ToArray();
        }

        using var output = new MemoryStream();
        using (var deflate = new DeflateStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            deflate.Write(cluster);
        }

        return output.ToArray();
    }

    /// <summary>
    /// Host bytes for one compressed cluster, packed after the previous one (<paramref name="packing"/> = next free
    /// byte, 0 = none) when it fits in that host cluster or the next cluster is the one the allocator hands out.
    /// Metadata lock held.
    /// </summary>
    private long AllocateCompressedBytes(int length, ref long packing, long guest)
    {
        int cs = _geo.ClusterSize;
        long host;
        // Share the partly used host cluster only while its refcount can take one more reference.
        if (packing != 0 && !_geo.IsClusterAligned(packing) && _refcounts!.GetRefcount(packing >> _geo.ClusterBits) < _geo.MaxRefcount)
        {
            long clusterEnd = _geo.ClusterStart(packing) + cs;
            if (packing + length <= clusterEnd)
            {
                _refcounts!.AddReference(packing >> _geo.ClusterBits);
                host = packing;
            }
            else
            {
                long next = AllocateDataCluster(guest);
                if (next == clusterEnd)
                {
                    _refcounts!.AddReference(packing >> _geo.ClusterBits);
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
            host = AllocateDataCluster(guest);
        }

        packing = host + length;
        return host;
    }
}
