using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Qcow2.Create;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Tools;

/// <summary>What <see cref="ImageConverter.Convert"/> writes.</summary>
public sealed record ConvertOptions
{
    /// <summary>Source format (qcow2 or raw); null = probe.</summary>
    public string? SourceFormat { get; init; }

    /// <summary>Read this internal snapshot of a qcow2 source instead of its live disk (qemu-img convert -l); null = the live disk.</summary>
    public SnapshotSelector? Snapshot { get; init; }

    /// <summary>Target format: "qcow2" or "raw".</summary>
    public string TargetFormat { get; init; } = "raw";

    /// <summary>Creation options of a qcow2 target (its Size is replaced by the source's).</summary>
    public Qcow2CreateOptions Qcow2 { get; init; } = new();

    /// <summary>Write compressed clusters (qcow2 target only).</summary>
    public bool Compress { get; init; }

    /// <summary>When the target's data is synced to disk (qemu-img's <c>-t</c>).</summary>
    public TargetCache Cache { get; init; } = TargetCache.Unsafe;

    /// <summary>Called with the fraction done (0..1) after each chunk.</summary>
    public Action<double>? Progress { get; init; }
}

/// <summary>
/// How the target of a conversion is synced, after qemu-img's cache modes. qemu-img convert defaults to
/// <c>unsafe</c> (verified here with strace: no fsync or fdatasync at all for a raw target; one fdatasync at the end
/// with <c>-t writeback</c>).
/// </summary>
public enum TargetCache
{
    /// <summary>No sync of a raw target: the data reaches the disk with the page cache's normal writeback.</summary>
    Unsafe,

    /// <summary>One sync at the end (qemu-img's writeback and none).</summary>
    Writeback,

    /// <summary>A sync after every chunk written (qemu-img's writethrough and directsync).</summary>
    Writethrough,
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

        string format = DiskImage.ResolveFormat(source, options.SourceFormat);
        if (options.Snapshot is not null && format != "qcow2")
        {
            throw new ArgumentException($"{source}: a {format} image has no internal snapshots");
        }

        using IVirtualDisk src = format switch
        {
            "qcow2" => Qcow2Image.Open(source, new ImageOpenOptions { ReadOnly = true, Snapshot = options.Snapshot }),
            "raw" => new RawDisk(FileBlockDevice.Open(source, readOnly: true, lockImage: true)),
            _ => throw new ArgumentException($"Unknown source format '{format}' (qcow2 or raw)"),
        };

        // The target is opened, checked and locked before a byte of it changes: the source, any file of its chain
        // (same inode, however named) and any file someone else uses are refused intact.
        var protect = SourceFiles.Of(source, format);
        switch (options.TargetFormat)
        {
            case "raw":
                var device = FileBlockDevice.OpenTarget(target, protect, "the conversion target");
                using (var dst = new RawDisk(device, src.Length))
                {
                    device.Reset(src.Length);
                    Copy(src, dst, ZeroGranule, options, options.Cache == TargetCache.Writeback ? new WriteBehind(device) : null);
                    if (options.Cache != TargetCache.Unsafe)
                    {
                        dst.Flush();
                    }
                }

                break;
            case "qcow2":
                var created = Qcow2Creator.CreateLocked(target, options.Qcow2 with { Size = src.Length }, protect, "the conversion target");
                Qcow2Image image;
                try
                {
                    // The new image is opened on the files its creation still holds locked.
                    image = ImageOpener.Open(created.File, new ImageOpenOptions(), backing: null, created.DataFile);
                }
                catch
                {
                    created.Dispose();
                    throw;
                }

                using (var dst = image)
                {
                    if (dst.Length < src.Length)
                    {
                        throw new ArgumentException($"source size {src.Length} does not fit the qcow2 target");
                    }

                    Copy(src, dst, options.Compress ? dst.Geometry.ClusterSize : ZeroGranule, options, new WriteBehind(created.File, created.DataFile));

                    // Whatever the cache mode: the metadata is written back and synced in the engine's crash-safe
                    // order (the engine does that on close anyway).
                    dst.Flush();
                }

                break;
            default:
                throw new ArgumentException($"Unknown target format '{options.TargetFormat}' (qcow2 or raw)");
        }
    }

    /// <summary>Bytes one worker copies at a time (qemu-img convert's default buffer as well).</summary>
    private const int ChunkSize = 2 << 20;

    /// <summary>
    /// Chunks in flight at once: the next chunks are read while one is written, as qemu-img convert reads ahead
    /// with 8 coroutines (-m 8). Writes stay sequential unless compressing (compression is the CPU work worth
    /// spreading, and compressed clusters are placed wherever they land anyway).
    /// </summary>
    private const int Workers = 4;

    /// <summary>
    /// Chunks in flight when compressing: as many compressions as qemu-img convert -c runs at once with its default
    /// -m 8 (each of its 8 requests compresses on a thread of its pool). On an idle machine 4 already keep both cores
    /// busy; on a shared one the scheduler shares the cores per thread, and with half of QEMU's threads the same
    /// CPU time took twice as long (workload 11 at load 29).
    /// </summary>
    private const int CompressingWorkers = 8;

    /// <summary>One worker's chunk: the data read and the extents of it that the source has (not known zero).</summary>
    private sealed class Chunk(int size)
    {
        public readonly byte[] Buffer = new byte[size];
        public readonly List<(long From, int Length)> Extents = [];
        public long Start;
        public int Length;
    }

    /// <summary>
    /// Copies every chunk of <paramref name="src"/> that holds data into <paramref name="dst"/>; with a final sync to
    /// come, <paramref name="writeBehind"/> keeps the disk writing as it goes.
    /// </summary>
    private static void Copy(IVirtualDisk src, IVirtualDisk dst, int granule, ConvertOptions options, WriteBehind? writeBehind)
    {
        var progress = options.Progress;
        bool compress = options.Compress;
        long size = src.Length;
        int chunkSize = Math.Max(ChunkSize, granule); // a multiple of the granule: both are powers of two
        var chunks = ChunksWithData(src, chunkSize);
        double reported = 0;
        var progressGate = new object();
        ChunkPipeline.Run(chunks.Count, compress ? CompressingWorkers : Workers, orderedWrites: !compress,
            () => new Chunk(chunkSize),
            (i, chunk) => ReadChunk(src, chunks[(int)i], (int)Math.Min(chunkSize, size - chunks[(int)i]), granule, chunk),
            (_, chunk) =>
            {
                long written = 0;
                foreach (var (from, length) in chunk.Extents)
                {
                    WriteNonZero(dst, from, chunk.Buffer.AsSpan((int)(from - chunk.Start), length), granule, compress);
                    written += length;
                }

                writeBehind?.Written(written);

                if (options.Cache == TargetCache.Writethrough && chunk.Extents.Count > 0)
                {
                    dst.Flush();
                }

                if (progress is not null)
                {
                    double fraction = (double)(chunk.Start + chunk.Length) / size;
                    lock (progressGate)
                    {
                        if (fraction > reported)
                        {
                            reported = fraction;
                            progress(fraction);
                        }
                    }
                }
            });
        if (progress is not null && reported < 1 && size > 0)
        {
            progress(1);
        }
    }

    /// <summary>
    /// The starts of the chunks that hold anything the source does not report as zero, found with block status over
    /// long runs: the copy's work follows the allocated data, not the virtual size (a sparse 64 TiB image is 33 million
    /// chunks, and handing each one through the pipeline took over ten minutes for 32 MiB of data).
    /// </summary>
    private static List<long> ChunksWithData(IVirtualDisk src, int chunkSize)
    {
        var starts = new List<long>();
        long size = src.Length, pos = 0;
        while (pos < size)
        {
            var status = src.GetBlockStatus(pos, size - pos);
            long n = Math.Max(1, status.Length);
            if ((status.Flags & BlockStatusFlags.Zero) == 0 || (status.Flags & BlockStatusFlags.Data) != 0)
            {
                for (long c = pos / chunkSize * chunkSize; c < pos + n; c += chunkSize)
                {
                    if (starts.Count == 0 || starts[^1] != c)
                    {
                        starts.Add(c);
                    }
                }
            }

            pos += n;
        }

        return starts;
    }

    /// <summary>Reads [start, start + length) of the source; ranges it reports as zero are skipped unread.</summary>
    private static void ReadChunk(IVirtualDisk src, long start, int length, int granule, Chunk chunk)
    {
        chunk.Start = start;
        chunk.Length = length;
        chunk.Extents.Clear();
        long pos = start, end = start + length;
        while (pos < end)
        {
            var status = src.GetBlockStatus(pos, end - pos);
            long n = Math.Max(1, status.Length);
            if ((status.Flags & BlockStatusFlags.Zero) != 0 && (status.Flags & BlockStatusFlags.Data) == 0)
            {
                pos += n;
                continue;
            }

            // Read whole granules so zero detection and compression see complete units.
            long from = pos / granule * granule;
            long to = Math.Min(end, (pos + n + granule - 1) / granule * granule);
            src.Read(from, chunk.Buffer.AsSpan((int)(from - start), (int)(to - from)));
            chunk.Extents.Add((from, (int)(to - from)));
            pos = to;
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
