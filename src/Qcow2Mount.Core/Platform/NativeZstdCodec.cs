using System.Runtime.InteropServices;
using Qcow2Mount.Core.Interop;
using Qcow2Mount.Core.Qcow2;

namespace Qcow2Mount.Core.Platform;

/// <summary>
/// zstd through the system libzstd (<see cref="Zstd"/>; chosen by <see cref="HostPlatform.NativeZstd"/>): ZSTD_compressCCtx at the default level, as QEMU's
/// ZSTD_compressStream2 with default parameters writes it, and streaming decompression across frames, as QEMU reads.
/// Each thread keeps its own contexts (creating a context per cluster cost more than the cluster).
/// </summary>
internal sealed class NativeZstdCodec : ZstdCodec
{
    [ThreadStatic]
    private static ZstdCompressionContext? t_compress;

    [ThreadStatic]
    private static ZstdDecompressionContext? t_decompress;

    private NativeZstdCodec()
    {
    }

    public override string Name => "libzstd";

    public override bool GivesUpQuickly => true;

    /// <summary>The codec, or null on a platform other than Linux or where libzstd.so.1 (1.4.0 or later) does not load. Once per process.</summary>
    public static NativeZstdCodec? TryLoad()
    {
        if (!OperatingSystem.IsLinux() || !Zstd.TryLoad())
        {
            return null;
        }

        try
        {
            return Zstd.VersionNumber() >= Zstd.MinimumVersion ? new NativeZstdCodec() : null;
        }
        catch (EntryPointNotFoundException)
        {
            return null;
        }
    }

    public override unsafe int Compress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var cctx = t_compress ??= Created(Zstd.CreateCCtx());
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            nuint result = Zstd.CompressCCtx(cctx, dst, (nuint)destination.Length, src, (nuint)source.Length, DefaultLevel);
            if (Zstd.IsError(result) != 0)
            {
                throw new InvalidOperationException($"zstd compression failed: {ErrorName(result)}");
            }

            return (int)result;
        }
    }

    public override unsafe int Decompress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var dctx = t_decompress ??= NewDecompressionContext();
        // A previous call may have stopped inside a frame (output full before the frame's end).
        Check(Zstd.DCtxReset(dctx, Zstd.ZSTD_reset_session_only));
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            var input = new ZstdBuffer { Data = src, Size = (nuint)source.Length };
            var output = new ZstdBuffer { Data = dst, Size = (nuint)destination.Length };
            while (output.Pos < output.Size)
            {
                nuint read = input.Pos, written = output.Pos;
                Check(Zstd.DecompressStream(dctx, &output, &input));
                if (input.Pos == read && output.Pos == written)
                {
                    break; // the input ended (a last frame cut short yields less than the cluster: the caller's error)
                }
            }

            return (int)output.Pos;
        }
    }

    private static ZstdDecompressionContext NewDecompressionContext()
    {
        var dctx = Created(Zstd.CreateDCtx());
        Check(Zstd.DCtxSetParameter(dctx, Zstd.ZSTD_d_windowLogMax, MaxWindowLog));
        return dctx;
    }

    private static T Created<T>(T context)
        where T : SafeHandle => context.IsInvalid ? throw new OutOfMemoryException("libzstd could not allocate a context") : context;

    private static void Check(nuint result)
    {
        if (Zstd.IsError(result) != 0)
        {
            throw new InvalidDataException(ErrorName(result));
        }
    }

    private static string ErrorName(nuint result) => Marshal.PtrToStringUTF8(Zstd.GetErrorName(result)) ?? "unknown zstd error";
}
