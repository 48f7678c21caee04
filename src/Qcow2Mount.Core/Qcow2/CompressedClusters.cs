using System.IO.Compression;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Storage;
using ZstdSharp;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>Reads compressed clusters (spec §8): raw deflate (QEMU "zlib") or zstd frames, exactly one cluster of output.</summary>
internal static class CompressedClusters
{
    public static void Decompress(IBlockDevice file, L2Entry entry, ClusterGeometry geo, byte compressionType, Span<byte> cluster, long guestOffset)
    {
        var d = CompressedDescriptor.Decode(entry, geo.ClusterBits);
        if (d.HostOffset >= file.Length || d.CompressedLength <= 0 || d.CompressedLength > 2 * geo.ClusterSize + 512)
        {
            throw new ImageCorruptException($"{file.Name}: compressed cluster at 0x{d.HostOffset:x} (length {d.CompressedLength}) is outside the file", guestOffset, d.HostOffset);
        }

        var input = new byte[d.CompressedLength];
        file.Read(d.HostOffset, input);
        int produced;
        try
        {
            produced = compressionType == 1 ? InflateZstd(input, cluster) : InflateDeflate(input, cluster);
        }
        catch (Exception e) when (e is InvalidDataException or ZstdException or IOException)
        {
            throw new ImageCorruptException($"{file.Name}: compressed cluster at 0x{d.HostOffset:x} cannot be decompressed: {e.Message}", guestOffset, d.HostOffset);
        }

        if (produced != cluster.Length)
        {
            throw new ImageCorruptException($"{file.Name}: compressed cluster at 0x{d.HostOffset:x} decompresses to {produced} bytes, not {cluster.Length}", guestOffset, d.HostOffset);
        }
    }

    private static int InflateDeflate(byte[] input, Span<byte> output)
    {
        // The sector-rounded input may hold trailing bytes of the next cluster: stop once the cluster is full.
        using var stream = new DeflateStream(new MemoryStream(input), CompressionMode.Decompress);
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

    private static int InflateZstd(byte[] input, Span<byte> output)
    {
        // The input may hold several frames; keep decoding until the cluster is full.
        using var stream = new DecompressionStream(new MemoryStream(input), leaveOpen: false);
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
