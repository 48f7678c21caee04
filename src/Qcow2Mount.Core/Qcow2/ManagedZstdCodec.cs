using ZstdSharp;
using ZstdSharp.Unsafe;

namespace Qcow2Mount.Core.Qcow2;

/// <summary>
/// zstd through ZstdSharp, the managed port of libzstd: where the system library does not load (Windows, a Linux
/// without libzstd1). Each thread keeps its own compressor.
/// </summary>
internal sealed class ManagedZstdCodec : ZstdCodec
{
    [ThreadStatic]
    private static Compressor? t_compressor;

    public override string Name => "ZstdSharp";

    public override bool GivesUpQuickly => false;

    public override int Compress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var compressor = t_compressor ??= new Compressor(DefaultLevel);
        return compressor.Wrap(source, destination);
    }

    public override unsafe int Decompress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        try
        {
            fixed (byte* src = source)
            {
                using var stream = new DecompressionStream(new UnmanagedMemoryStream(src, source.Length), leaveOpen: false);
                // A frame may demand a window of up to 2^27 bytes (allocated per read); a larger one than a cluster
                // needs only comes from a hostile image.
                stream.SetParameter(ZSTD_dParameter.ZSTD_d_windowLogMax, MaxWindowLog);
                int total = 0;
                while (total < destination.Length)
                {
                    int n;
                    try
                    {
                        n = stream.Read(destination[total..]);
                    }
                    catch (EndOfStreamException)
                    {
                        break; // a last frame cut short: less than the cluster, as from libzstd
                    }

                    if (n == 0)
                    {
                        break;
                    }

                    total += n;
                }

                return total;
            }
        }
        catch (ZstdException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }
}
