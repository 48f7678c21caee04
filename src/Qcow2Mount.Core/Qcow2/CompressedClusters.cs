using System.Buffers;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// The codec of compressed clusters (spec §8, §2.4): raw deflate (QEMU "zlib", no zlib header) or zstd frames.
/// Reading yields exactly one cluster of output or fails as corruption; writing yields one cluster's compressed form.
/// </summary>
internal static class CompressedClusters
{
    public static void Decompress(IBlockDevice file, L2Entry entry, ClusterGeometry geo, byte compressionType, Span<byte> cluster, long guestOffset)
    {
        var d = CompressedDescriptor.Decode(entry, geo.ClusterBits);
        long host = d.HostOffset.Value;
        if (host >= file.Length || d.CompressedLength <= 0 || d.CompressedLength > 2 * geo.ClusterSize + 512)
        {
            throw new ImageCorruptException($"{file.Name}: compressed cluster at {d.HostOffset} (length {d.CompressedLength}) is outside the file", guestOffset, host);
        }

        byte[] rented = ArrayPool<byte>.Shared.Rent(d.CompressedLength);
        int produced;
        try
        {
            var input = rented.AsSpan(0, d.CompressedLength);
            file.Read(host, input);
            produced = compressionType == 1 ? ZstdCodec.Current.Decompress(input, cluster) : InflateDeflate(rented, d.CompressedLength, cluster);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new ImageCorruptException($"{file.Name}: compressed cluster at {d.HostOffset} cannot be decompressed: {e.Message}", guestOffset, host);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        if (produced != cluster.Length)
        {
            throw new ImageCorruptException($"{file.Name}: compressed cluster at {d.HostOffset} decompresses to {produced} bytes, not {cluster.Length}", guestOffset, host);
        }
    }

    /// <summary>Bytes <see cref="TryCompress"/> may need in its destination for a cluster of <paramref name="clusterSize"/> bytes.</summary>
    public static int OutputBound(int clusterSize) => ZstdCodec.CompressBound(clusterSize);

    /// <summary>
    /// Writes the compressed form of one cluster (raw deflate without zlib header, or one zstd frame) to
    /// <paramref name="destination"/> (<see cref="OutputBound"/> bytes) and returns its length, or returns -1 when it
    /// would not be shorter than <paramref name="limit"/> bytes (the cluster is then stored uncompressed, as QEMU does).
    /// Deflate uses zlib's default level, zstd its default level, as QEMU does. A cluster whose bytes are as evenly
    /// spread as random data's (<see cref="LooksRandom"/>: random, encrypted or already compressed data, often half of
    /// a disk) is given up on without compressing it: a deflate attempt cost as much as compressing text and never came
    /// under the limit. The system libzstd is not asked first: it gives up on such a cluster four times faster than
    /// the histogram is counted (<see cref="ZstdCodec.GivesUpQuickly"/>).
    /// </summary>
    public static int TryCompress(ReadOnlySpan<byte> cluster, byte compressionType, int limit, Span<byte> destination)
    {
        var zstd = compressionType == 1 ? ZstdCodec.Current : null;
        if (zstd is not { GivesUpQuickly: true } && LooksRandom(cluster))
        {
            return -1;
        }

        int length;
        if (zstd is not null)
        {
            length = zstd.Compress(cluster, destination);
        }
        else
        {
            var output = t_deflateOutput ??= new MemoryStream();
            length = Deflate(cluster, output, DefaultLevel);
            if (length < limit)
            {
                output.GetBuffer().AsSpan(0, length).CopyTo(destination);
            }
        }

        return length < limit ? length : -1;
    }

    /// <summary>
    /// True when the byte histogram of <paramref name="data"/> (4 KiB or more) is as flat as that of random bytes: its
    /// entropy falls short of 8 bits a byte by less than 1.5 times what n random bytes fall short by on average,
    /// (256 − 1) / (2 n ln 2) (0.0028 bits for 64 KiB, with a spread of 0.00025: random data passes for certain). Huffman
    /// codes cannot shorten such data; only repeats could, and repeats within 16 KiB, far beyond the 4 KiB window QEMU
    /// compresses with, already pull the entropy below the bar. Data with any structure (text, code, tables, zeros
    /// in part) is far below it.
    /// </summary>
    internal static bool LooksRandom(ReadOnlySpan<byte> data)
    {
        if (data.Length < 4096)
        {
            return false;
        }

        // Four tables so that repeated bytes do not wait on one counter; eight bytes a load, no bounds checks (1.0 to 1.7 GB/s).
        Span<int> counts = stackalloc int[4 * 256];
        counts.Clear();
        ref int table = ref MemoryMarshal.GetReference(counts);
        ref byte bytes = ref MemoryMarshal.GetReference(data);
        int i = 0;
        for (; i + 8 <= data.Length; i += 8)
        {
            ulong w = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref bytes, i));
            Unsafe.Add(ref table, (int)(w & 0xFF))++;
            Unsafe.Add(ref table, 256 + (int)((w >> 8) & 0xFF))++;
            Unsafe.Add(ref table, 512 + (int)((w >> 16) & 0xFF))++;
            Unsafe.Add(ref table, 768 + (int)((w >> 24) & 0xFF))++;
            Unsafe.Add(ref table, (int)((w >> 32) & 0xFF))++;
            Unsafe.Add(ref table, 256 + (int)((w >> 40) & 0xFF))++;
            Unsafe.Add(ref table, 512 + (int)((w >> 48) & 0xFF))++;
            Unsafe.Add(ref table, 768 + (int)(w >> 56))++;
        }

        for (; i < data.Length; i++)
        {
            counts[data[i]]++;
        }

        double n = data.Length, sum = 0;
        for (int b = 0; b < 256; b++)
        {
            int c = counts[b] + counts[256 + b] + counts[512 + b] + counts[768 + b];
            if (c > 0)
            {
                sum += c * Math.Log2(c);
            }
        }

        double shortfall = 8 - (Math.Log2(n) - (sum / n)); // 8 − entropy in bits a byte
        double randomShortfall = 255 / (2 * n * Math.Log(2));
        return shortfall < 1.5 * randomShortfall;
    }

    /// <summary>zlib's Z_DEFAULT_COMPRESSION, QEMU's level for compressed clusters.</summary>
    private const int DefaultLevel = 6;

    /// <summary>A compressing thread's reusable deflate output.</summary>
    [ThreadStatic]
    private static MemoryStream? t_deflateOutput;

    private static int Deflate(ReadOnlySpan<byte> cluster, MemoryStream output, int level)
    {
        output.SetLength(0);
        using (var deflate = new DeflateStream(output, new ZLibCompressionOptions { CompressionLevel = level }, leaveOpen: true))
        {
            deflate.Write(cluster);
        }

        return (int)output.Length;
    }

    // The sector-rounded input may hold trailing bytes of the next cluster (deflate) or several frames (zstd,
    // ZstdCodec.Decompress): decode until the cluster is full or the stream ends.
    private static int InflateDeflate(byte[] input, int length, Span<byte> output)
    {
        using var stream = new DeflateStream(new MemoryStream(input, 0, length, writable: false), CompressionMode.Decompress);
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
