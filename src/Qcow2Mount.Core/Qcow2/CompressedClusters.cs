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

    /// <summary>
    /// The compressed form of one cluster (raw deflate without zlib header, or one zstd frame), or null when it would not
    /// be shorter than <paramref name="limit"/> bytes (the cluster is then stored uncompressed, as QEMU does). Deflate
    /// uses zlib's default level, as QEMU does. A cluster whose bytes are as evenly spread as random data's
    /// (<see cref="LooksRandom"/>: random, encrypted or already compressed data, often half of a disk) is given up on
    /// without compressing it: the attempt cost as much as compressing text and never came under the limit.
    /// </summary>
    public static byte[]? TryCompress(ReadOnlySpan<byte> cluster, byte compressionType, int limit)
    {
        if (LooksRandom(cluster))
        {
            return null;
        }

        var state = t_state ??= new CompressionState();
        if (compressionType == 1)
        {
            var zstd = state.Zstd ??= new Compressor();
            var buffer = state.Output(Compressor.GetCompressBound(cluster.Length));
            int written = zstd.Wrap(cluster, buffer);
            return written < limit ? buffer.AsSpan(0, written).ToArray() : null;
        }

        int length = Deflate(cluster, state, DefaultLevel);
        return length < limit ? state.Buffer.GetBuffer().AsSpan(0, length).ToArray() : null;
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

        Span<int> counts = stackalloc int[4 * 256];
        counts.Clear();
        int i = 0;
        for (; i + 4 <= data.Length; i += 4)
        {
            counts[data[i]]++;
            counts[256 + data[i + 1]]++;
            counts[512 + data[i + 2]]++;
            counts[768 + data[i + 3]]++;
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

    [ThreadStatic]
    private static CompressionState? t_state;

    private static int Deflate(ReadOnlySpan<byte> cluster, CompressionState state, int level)
    {
        var output = state.Buffer;
        output.SetLength(0);
        using (var deflate = new DeflateStream(output, new ZLibCompressionOptions { CompressionLevel = level }, leaveOpen: true))
        {
            deflate.Write(cluster);
        }

        return (int)output.Length;
    }

    /// <summary>A compressing thread's reusable output buffer and zstd context (a context per cluster cost more than the cluster).</summary>
    private sealed class CompressionState
    {
        private byte[] _output = [];

        public MemoryStream Buffer { get; } = new();

        public Compressor? Zstd { get; set; }

        public byte[] Output(int size) => _output.Length >= size ? _output : _output = new byte[size];
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
