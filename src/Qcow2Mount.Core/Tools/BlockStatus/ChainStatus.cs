namespace Qcow2Mount.Core.Tools.BlockStatus;

/// <summary>
/// Block status of an image over its whole backing chain, as qemu-img asks it (bdrv_block_status_above with no
/// base): the first layer that allocates a range decides; a range no layer allocates reads as zeros; past the end of
/// a shorter backing file the range is zero and counts as allocated there. The generic rules QEMU adds to every
/// driver answer live here: Allocated for data or zero, Zero for unallocated ranges without a backing file (or past
/// its end), Eof for a run that reaches the end of the image asked.
/// </summary>
internal sealed class ChainStatus : IDisposable
{
    private readonly List<StatusLayer> _layers;

    private ChainStatus(List<StatusLayer> layers) => _layers = layers;

    /// <summary>Virtual size of the top image.</summary>
    public long Length => _layers[0].Length;

    /// <summary>
    /// Opens the status view of <paramref name="path"/> (format <paramref name="format"/>, null = probe) and of every
    /// backing file below it. The chain must already have been opened once through the engine (which applies the
    /// backing-file policy); this only reads metadata.
    /// </summary>
    public static ChainStatus Open(string path, string? format)
    {
        var layers = new List<StatusLayer>();
        try
        {
            foreach (var info in ImageInfo.ReadChain(path, format))
            {
                layers.Add(info.Format == "qcow2" ? new Qcow2StatusLayer(info.Filename) : new RawStatusLayer(info.Filename));
            }

            return new ChainStatus(layers);
        }
        catch
        {
            foreach (var l in layers)
            {
                l.Dispose();
            }

            throw;
        }
    }

    /// <summary>The real path of the file behind layer <paramref name="depth"/>.</summary>
    public string LayerIdentity(int depth) => _layers[depth].Identity;

    /// <summary>Status of the run at <paramref name="offset"/>, at most <paramref name="bytes"/> long (never empty inside the image).</summary>
    public StatusRun Get(long offset, long bytes)
    {
        var (flags, n) = LayerStatus(0, offset, bytes);
        if (n == 0 || (flags & QemuStatus.Allocated) != 0)
        {
            return new StatusRun(flags, n, 0);
        }

        long eof = (flags & QemuStatus.Eof) != 0 ? offset + n : 0;
        bytes = n;
        int depth = 0;
        for (int i = 1; i < _layers.Count; i++)
        {
            (flags, n) = LayerStatus(i, offset, bytes);
            depth = i;
            if (n == 0)
            {
                // The layer above deferred to this one, which ends before offset: zeros, as if allocated here.
                (flags, n) = (QemuStatus.Zero | QemuStatus.Allocated, bytes);
                break;
            }

            if ((flags & QemuStatus.Allocated) != 0)
            {
                flags &= ~QemuStatus.Eof;
                break;
            }

            bytes = n;
        }

        if (offset + n == eof)
        {
            flags |= QemuStatus.Eof;
        }

        return new StatusRun(flags, n, depth);
    }

    public void Dispose()
    {
        foreach (var l in _layers)
        {
            l.Dispose();
        }
    }

    /// <summary>One layer's answer with the generic block-layer rules applied.</summary>
    private (QemuStatus Flags, long Length) LayerStatus(int depth, long offset, long bytes)
    {
        var layer = _layers[depth];
        long total = layer.Length;
        if (offset >= total)
        {
            return (QemuStatus.Eof, 0);
        }

        bytes = Math.Min(bytes, total - offset);
        if (bytes <= 0)
        {
            return (QemuStatus.None, 0);
        }

        var (flags, n) = layer.DriverStatus(offset, bytes);
        n = Math.Min(n, bytes);
        if ((flags & (QemuStatus.Data | QemuStatus.Zero)) != 0)
        {
            flags |= QemuStatus.Allocated;
        }
        else if (layer.SupportsBacking)
        {
            bool hasBacking = depth + 1 < _layers.Count;
            if (!hasBacking || offset >= _layers[depth + 1].Length)
            {
                flags |= QemuStatus.Zero;
            }
        }

        if (offset + n == total)
        {
            flags |= QemuStatus.Eof;
        }

        return (flags, n);
    }
}
