using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Qcow2.Create;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Tools;

/// <summary>What <see cref="ImageConverter.Convert"/> writes.</summary>
public sealed record ConvertOptions
{
    /// <summary>Source format (qcow2 or raw); null = probe.</summary>
    public string? SourceFormat { get; init; }

    /// <summary>Target format: "qcow2" or "raw".</summary>
    public string TargetFormat { get; init; } = "raw";

    /// <summary>Creation options of a qcow2 target (its Size is replaced by the source's).</summary>
    public Qcow2CreateOptions Qcow2 { get; init; } = new();

    /// <summary>Write compressed clusters (qcow2 target only).</summary>
    public bool Compress { get; init; }

    /// <summary>Called with the fraction done (0..1) after each chunk.</summary>
    public Action<double>? Progress { get; init; }
}

/// <summary>
/// qemu-img convert: reads any image (its backing chain flattened) and writes a new raw or qcow2 image. Ranges the
/// source reports as zero are skipped without reading; read data is scanned in 4 KiB pieces (whole clusters when
/// compressing) and all-zero pieces are not written, so the target stays sparse (a new target reads as zeros).
/// </summary>
public static class ImageConverter
{
    private const int ZeroGranule = 4096;

    public static void Convert(string source, string target, ConvertOptions options)
    {
        if (options.Compress && options.TargetFormat != "qcow2")
        {
            throw new ArgumentException("Compression not supported for this file format");
        }

        string format = options.SourceFormat ?? DiskImage.ProbeFormat(source);
        using IVirtualDisk src = format switch
        {
            "qcow2" => Qcow2Image.Open(source, new ImageOpenOptions { ReadOnly = true }),
            "raw" => new RawDisk(FileBlockDevice.Open(source, readOnly: true, lockImage: true)),
            _ => throw new ArgumentException($"Unknown source format '{format}' (qcow2 or raw)"),
        };

        if (Path.GetFullPath(source) == Path.GetFullPath(target))
        {
            throw new ArgumentException("source and target are the same file");
        }

        switch (options.TargetFormat)
        {
            case "raw":
                using (var f = new FileStream(target, FileMode.Create, FileAccess.Write))
                {
                    f.SetLength(src.Length);
                }

                using (var dst = new RawDisk(FileBlockDevice.Open(target, readOnly: false)))
                {
                    Copy(src, dst, compress: false, ZeroGranule, options.Progress);
                    dst.Flush();
                }

                break;
            case "qcow2":
                Qcow2Creator.Create(target, options.Qcow2 with { Size = src.Length });
                using (var dst = Qcow2Image.Open(target, new ImageOpenOptions()))
                {
                    if (dst.Length < src.Length)
                    {
                        throw new ArgumentException($"source size {src.Length} does not fit the qcow2 target");
                    }

                    Copy(src, dst, options.Compress, options.Compress ? dst.Geometry.ClusterSize : ZeroGranule, options.Progress);
                    dst.Flush();
                }

                break;
            default:
                throw new ArgumentException($"Unknown target format '{options.TargetFormat}' (qcow2 or raw)");
        }
    }

    private static void Copy(IVirtualDisk src, IVirtualDisk dst, bool compress, int granule, Action<double>? progress)
    {
        long size = src.Length;
        int chunk = Math.Max(1 << 20, granule);
        var buffer = new byte[chunk];
        long pos = 0;
        while (pos < size)
        {
            var status = src.GetBlockStatus(pos, Math.Min(chunk, size - pos));
            long n = Math.Max(1, status.Length);
            if ((status.Flags & BlockStatusFlags.Zero) != 0 && (status.Flags & BlockStatusFlags.Data) == 0)
            {
                pos += n;
                progress?.Invoke((double)pos / size);
                continue;
            }

            // Read whole granules so zero detection and compression see complete units.
            long start = pos / granule * granule;
            long end = Math.Min(size, Math.Min(start + chunk, (pos + n + granule - 1) / granule * granule));
            var span = buffer.AsSpan(0, (int)(end - start));
            src.Read(start, span);
            WriteNonZero(dst, start, span, granule, compress);
            pos = end;
            progress?.Invoke((double)pos / size);
        }
    }

    /// <summary>Writes the runs of granules that are not all zero.</summary>
    private static void WriteNonZero(IVirtualDisk dst, long offset, ReadOnlySpan<byte> data, int granule, bool compress)
    {
        int i = 0;
        while (i < data.Length)
        {
            int g = Math.Min(granule, data.Length - i);
            if (!data.Slice(i, g).ContainsAnyExcept((byte)0))
            {
                i += g;
                continue;
            }

            int runStart = i;
            while (i < data.Length && data.Slice(i, Math.Min(granule, data.Length - i)).ContainsAnyExcept((byte)0))
            {
                i += Math.Min(granule, data.Length - i);
            }

            var run = data[runStart..i];
            if (compress && dst is Qcow2Image q)
            {
                q.WriteCompressed(offset + runStart, run);
            }
            else
            {
                dst.Write(offset + runStart, run);
            }
        }
    }
}
