using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2;

namespace Qcow2Mount.Core.Tools;

/// <summary>
/// qemu-img rebase: changes the backing file an image names. Safe mode keeps the guest-visible content: every range
/// the image does not allocate itself is compared between the old backing chain and the new one (zeros past the end of
/// either, and everywhere when rebasing onto no backing file), unit by unit (a subcluster with extended L2, else a
/// cluster), and each differing unit gets the old chain's bytes written into the image (only those units are
/// allocated); then the header's backing name and format are rewritten. Unsafe mode (-u) rewrites the header only.
/// Safety: the new backing chain is opened and the new header checked (it must fit in cluster 0) before anything is
/// written; the header changes only after the copied data is flushed, so an interrupted rebase leaves the image on its
/// old backing file, reading as before.
/// </summary>
public static class ImageRebaser
{
    private const int ChunkSize = 1 << 20;

    public static void Rebase(string path, ChainOperationOptions options)
    {
        string name = options.Backing ?? throw new ArgumentException("a new backing file name is needed", nameof(options));
        string? newName = name.Length == 0 ? null : name;
        string format = DiskImage.ResolveFormat(path, options.Format);
        if (format != "qcow2")
        {
            throw new UnsupportedFeatureException($"Could not change the backing file to '{name}': Operation not supported");
        }

        if (newName is not null && options.BackingFormat is null)
        {
            // qemu-img 7.2 refuses a backing file without a format (it would have to be probed on every open).
            throw new BackingChainException($"Could not change the backing file to '{name}': backing format must be specified");
        }

        string? newFormat = newName is null ? null : options.BackingFormat;
        if (newFormat is not (null or "qcow2" or "raw"))
        {
            throw new BackingChainException($"Could not open new backing file '{name}': Unknown driver '{newFormat}' (qcow2 and raw are supported)");
        }

        using var image = Qcow2Image.Open(path, new ImageOpenOptions { FollowBacking = !options.Unsafe, CacheCleanIntervalSeconds = 0 });
        try
        {
            image.WithBackingFile(newName, newFormat);
        }
        catch (ImageFormatException)
        {
            throw new BackingChainException($"Could not change the backing file to '{name}': Invalid argument");
        }

        if (!options.Unsafe)
        {
            using var newBacking = newName is null ? null : OpenNewBacking(path, name, newFormat!);
            MappingWalk.Check(image, options.Cancellation);
            if (newBacking is not null)
            {
                MappingWalk.Check(newBacking, options.Cancellation);
            }

            Copy(image, newBacking, options);
            image.Flush();
        }

        image.SetBackingFile(newName, newFormat);
    }

    private static IVirtualDisk OpenNewBacking(string image, string name, string format)
    {
        try
        {
            return DiskImage.Open(BackingChain.Resolve(image, name), format, new ImageOpenOptions { ReadOnly = true, CacheCleanIntervalSeconds = 0 });
        }
        catch (Exception e) when (e is Qcow2Exception or IOException or UnauthorizedAccessException)
        {
            throw new BackingChainException($"Could not open new backing file '{name}': {e.Message}", e);
        }
    }

    /// <summary>Writes the old chain's bytes into every unit the image does not allocate where the new chain reads differently.</summary>
    private static void Copy(Qcow2Image image, IVirtualDisk? newBacking, ChainOperationOptions options)
    {
        long length = image.Length;
        int unit = image.Geometry.SubclusterSize;
        int chunk = Math.Max(ChunkSize / unit, 1) * unit;
        var old = new byte[chunk];
        var updated = new byte[chunk];
        options.Progress?.Invoke(0);
        for (long pos = 0; pos < length;)
        {
            options.Cancellation.ThrowIfCancellationRequested();
            var status = image.GetBlockStatus(pos, Math.Min(length - pos, 64L * ChunkSize));
            long runEnd = pos + status.Length;
            if ((status.Flags & BlockStatusFlags.Allocated) == 0)
            {
                // Runs start and end on unit boundaries (the mapping's granularity), except at the end of the disk.
                while (pos < runEnd)
                {
                    options.Cancellation.ThrowIfCancellationRequested();
                    int n = (int)Math.Min(runEnd - pos, chunk);
                    image.Read(pos, old.AsSpan(0, n));
                    ReadOrZeros(newBacking, pos, updated.AsSpan(0, n));
                    WriteDifferingUnits(image, pos, old.AsSpan(0, n), updated.AsSpan(0, n), unit);
                    pos += n;
                    options.Progress?.Invoke((double)pos / length);
                }
            }

            pos = runEnd;
            options.Progress?.Invoke((double)pos / length);
        }

        options.Progress?.Invoke(1);
    }

    /// <summary>Writes <paramref name="old"/> at <paramref name="offset"/> in runs of whole units that differ from <paramref name="updated"/>.</summary>
    private static void WriteDifferingUnits(Qcow2Image image, long offset, ReadOnlySpan<byte> old, ReadOnlySpan<byte> updated, int unit)
    {
        int start = -1;
        for (int at = 0; at < old.Length; at += unit)
        {
            int n = Math.Min(unit, old.Length - at);
            bool differs = !old.Slice(at, n).SequenceEqual(updated.Slice(at, n));
            if (differs && start < 0)
            {
                start = at;
            }
            else if (!differs && start >= 0)
            {
                image.Write(offset + start, old[start..at]);
                start = -1;
            }
        }

        if (start >= 0)
        {
            image.Write(offset + start, old[start..]);
        }
    }

    /// <summary>The new chain's bytes at <paramref name="offset"/>: zeros past its end, and everywhere without one.</summary>
    private static void ReadOrZeros(IVirtualDisk? disk, long offset, Span<byte> buffer)
    {
        int n = disk is null ? 0 : disk.Read(offset, buffer);
        buffer[n..].Clear();
    }
}
