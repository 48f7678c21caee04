using System.IO.Compression;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Storage;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// The codec of compressed clusters (spec §8, §2.4): raw deflate (QEMU "zlib", no zlib header) or zstd frames.
/// Reading yields exactly one cluster of output or fails as corruption; writing yields one cluster's compressed form.
/// </summary>
internal static class CompressedClusters
{
    /// <summary>Largest zstd window accepted: 4 MiB, twice the largest cluster.</summary>
    private const int MaxZstdWindowLog = 22;

    public static void Decompress(IBlockDevice file, L2Entry entry, ClusterGeometry geo, byte compressionType, Span<byte> cluster, long guestOffset)
    {
        var d = CompressedDescriptor.Decode(entry, geo.ClusterBits);
        long host = d.HostOffset.Value;
        if (host >= file.Length || d.CompressedLength <= 0 || d.CompressedLength > 2 * geo.ClusterSize + 512)
        {
            throw new ImageCorruptException($"{file.Name}: compressed cluster at {d.HostOffset} (length {d.CompressedLength}) is outside the file", guestOffset, host);
        }

        var input = new byte[d.CompressedLength];
        file.Read(host, input);
        int produced;
        try
        {
            produced = compressionType == 1 ? InflateZstd(input, cluster) : InflateDeflate(input, cluster);
        }
        catch (Exception e) when (e is InvalidDataException or ZstdException or IOException)
        {
            throw new ImageCorruptException($"{file.Name}: compressed cluster at {d.HostOffset} cannot be decompressed: {e.Message}", guestOffset, host);
        }

        if (produced != cluster.Length)
        {
            throw new ImageCorruptException($"{file.Name}: compressed cluster at {d.HostOffset} decompresses to {produced} bytes, not {cluster.Length}", guestOffset, host);
        }
    }

    /// <summary>The compressed form of one cluster: raw deflate (no zlib header) or one zstd frame.</summary>
    public static byte[] Compress(ReadOnlySpan<byte> cluster, byte compressionType)
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

    // The sector-rounded input may hold trailing bytes of the next cluster (deflate) or several frames (zstd):
    // decode until the cluster is full or the stream ends.
    private static int InflateDeflate(byte[] input, Span<byte> output)
    {
        using var stream = new DeflateStream(new MemoryStream(input), CompressionMode.Decompress);
        return ReadUntilFull(stream, output);
    }

    private static int InflateZstd(byte[] input, Span<byte> output)
    {
        using var stream = new DecompressionStream(new MemoryStream(input), leaveOpen: false);
        // A frame may demand a window of up to 2^27 bytes (allocated per read); QEMU compresses one cluster
        // (at most 2 MiB) per frame with its size known, so a larger window only comes from a hostile image.
        stream.SetParameter(ZSTD_dParameter.ZSTD_d_windowLogMax, MaxZstdWindowLog);
        return ReadUntilFull(stream, output);
    }

    private static int ReadUntilFull(Stream stream, Span<byte> output)
    {
        int total = 0;
        while (total < output.Length)
        {
            int n = stream.Read(output[total..]);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }
}
