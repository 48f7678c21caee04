using Qcow2Mount.Core.Platform;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// The zstd implementation of compressed clusters (spec §8, compression_type 1): the system libzstd where it loads
/// (<see cref="HostPlatform.NativeZstd"/>, Linux with libzstd1: the library QEMU uses; workload 11's convert -c took
/// 2.83 s of CPU with the managed port, 2.04 s with libzstd), else the managed port (<see cref="ManagedZstdCodec"/>:
/// Windows, a Linux without libzstd1). The choice is made once, at first use. Both write one frame per cluster at zstd's default
/// level (QEMU sets no parameter), and each reads the other's frames.
/// </summary>
internal abstract class ZstdCodec
{
    /// <summary>Largest window a frame may demand: 4 MiB, twice the largest cluster (QEMU's frames need one cluster).</summary>
    public const int MaxWindowLog = 22;

    /// <summary>ZSTD_CLEVEL_DEFAULT: the level QEMU compresses clusters with (it sets no parameter).</summary>
    public const int DefaultLevel = 3;

    private static readonly AsyncLocal<ZstdCodec?> s_forced = new();

    public static ZstdCodec Managed { get; } = new ManagedZstdCodec();

    /// <summary>The system libzstd, or null where it cannot be loaded (looked for once).</summary>
    public static ZstdCodec? Native => HostPlatform.NativeZstd;

    /// <summary>The codec the image code uses: <see cref="Native"/> where it loads, else <see cref="Managed"/>.</summary>
    public static ZstdCodec Current => s_forced.Value ?? Native ?? Managed;

    public abstract string Name { get; }

    /// <summary>
    /// True when compressing random data costs less than telling it apart first (<see cref="CompressedClusters.LooksRandom"/>):
    /// libzstd gives up on a random 64 KiB cluster at 3.9 GB/s of CPU, the histogram counts 1.7 GB/s.
    /// </summary>
    public abstract bool GivesUpQuickly { get; }

    /// <summary>
    /// Makes <see cref="Current"/> return <paramref name="codec"/> for this flow of execution (and the threads it starts)
    /// until the result is disposed: tests compare the two codecs through the whole image code.
    /// </summary>
    internal static IDisposable Force(ZstdCodec codec)
    {
        var previous = s_forced.Value;
        s_forced.Value = codec;
        return new Restore(previous);
    }

    /// <summary>ZSTD_COMPRESSBOUND: the largest frame <see cref="Compress"/> can write for <paramref name="length"/> bytes.</summary>
    public static int CompressBound(int length) =>
        length + (length >> 8) + (length < (128 << 10) ? ((128 << 10) - length) >> 11 : 0);

    /// <summary>
    /// Compresses <paramref name="source"/> into one frame (content size in the header, no checksum) at zstd's default
    /// level; <paramref name="destination"/> holds at least <see cref="CompressBound"/> bytes. Returns the frame's length.
    /// </summary>
    public abstract int Compress(ReadOnlySpan<byte> source, Span<byte> destination);

    /// <summary>
    /// Decodes frames from <paramref name="source"/> (one or several, trailing bytes ignored once the output is full) until
    /// <paramref name="destination"/> is full or the input ends; returns the bytes produced. A malformed frame, or one
    /// demanding a window above 2^<see cref="MaxWindowLog"/>, throws <see cref="InvalidDataException"/>.
    /// </summary>
    public abstract int Decompress(ReadOnlySpan<byte> source, Span<byte> destination);

    private sealed class Restore(ZstdCodec? previous) : IDisposable
    {
        public void Dispose() => s_forced.Value = previous;
    }
}
