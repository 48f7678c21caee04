using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Tools;

/// <summary>
/// qemu-img commit: the data of an overlay (and of every layer between it and BASE) is written into BASE, then the
/// overlay is emptied unless kept. What is copied is every run some layer above BASE decides (data, zeros, and the
/// zeros past the end of a shorter intermediate layer), at the granularity the mapping has (subclusters with extended
/// L2): data is read through the chain and written, zeros become zero writes that may unmap (zero clusters or zero
/// subclusters in a qcow2 BASE). A BASE shorter than the overlay grows to its size first (never shrinks).
/// Safety: the whole chain is opened and checked (and its locks taken) before anything changes; the overlay is
/// emptied only after BASE is flushed, so an interruption leaves the overlay reading as it did.
/// </summary>
public static class ImageCommitter
{
    private const int ChunkSize = 1 << 20;

    /// <summary>Commits <paramref name="path"/> into its backing file, or into <see cref="ChainOperationOptions.Backing"/>.</summary>
    public static void Commit(string path, ChainOperationOptions options)
    {
        string format = DiskImage.ResolveFormat(path, options.Format);
        if (format != "qcow2")
        {
            throw new BackingChainException("Image does not have a backing file");
        }

        // The whole chain once, read-only with its locks, every mapping walked: a missing, hostile or busy file (or a
        // hostile L2 entry anywhere) fails here, before any change (BASE may have to grow first).
        using (var check = Qcow2Image.Open(path, new ImageOpenOptions { ReadOnly = true, CacheCleanIntervalSeconds = 0 }))
        {
            if (check.Header.BackingFile is null)
            {
                throw new BackingChainException("Image does not have a backing file");
            }

            MappingWalk.Check(check, options.Cancellation);
        }

        var chain = ChainFiles(path);
        int baseIndex = options.Backing is null ? 1 : FindBase(chain, options.Backing)
            ?? throw new BackingChainException($"Did not find '{options.Backing}' in the backing chain of '{path}'");
        bool empty = options.Backing is null && !options.KeepOverlay;
        var baseLayer = chain[baseIndex];

        long topLength;
        using (var probe = FileBlockDevice.Open(path, readOnly: true))
        {
            topLength = Qcow2.Metadata.HeaderStore.Read(probe).Size;
        }

        var opened = new List<IDisposable>();
        try
        {
            var baseDisk = DiskImage.Open(baseLayer.Path, baseLayer.Format, new ImageOpenOptions { CacheCleanIntervalSeconds = 0 });
            opened.Add(baseDisk);
            if (baseDisk.Length < topLength)
            {
                // As qemu-img: a shorter BASE grows to the overlay's size (its new part reads as zeros).
                baseDisk.Dispose();
                opened.Clear();
                ImageResizer.Resize(baseLayer.Path, topLength, allowShrink: false, baseLayer.Format ?? DiskImage.ResolveFormat(baseLayer.Path, null));
                baseDisk = DiskImage.Open(baseLayer.Path, baseLayer.Format, new ImageOpenOptions { CacheCleanIntervalSeconds = 0 });
                opened.Add(baseDisk);
            }

            IVirtualDisk below = baseDisk;
            for (int i = baseIndex - 1; i >= 1; i--)
            {
                var layer = OpenOver(chain[i].Path, writable: false, below);
                opened.Add(layer);
                below = layer;
            }

            var top = OpenOver(path, writable: empty, below);
            opened.Add(top);
            Copy(top, baseDisk, baseIndex, options);
            baseDisk.Flush();
            if (empty)
            {
                top.MakeEmpty();
            }
        }
        finally
        {
            // Top first: each layer is closed before the one below it.
            for (int i = opened.Count - 1; i >= 0; i--)
            {
                opened[i].Dispose();
            }
        }
    }

    /// <summary>
    /// Opens the qcow2 image at <paramref name="path"/> (with its lock) over <paramref name="below"/>, which stays the
    /// caller's to close (after this image).
    /// </summary>
    internal static Qcow2Image OpenOver(string path, bool writable, IVirtualDisk below)
    {
        var file = FileBlockDevice.Open(path, readOnly: !writable, lockImage: true);
        try
        {
            return ImageOpener.Open(file, new ImageOpenOptions { ReadOnly = !writable, CacheCleanIntervalSeconds = 0 }, below, dataFile: null, backingOwner: NotOwned.Instance);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Writes into <paramref name="baseDisk"/> every run of <paramref name="top"/> that a layer above depth <paramref name="baseDepth"/> decides.</summary>
    private static void Copy(Qcow2Image top, IVirtualDisk baseDisk, int baseDepth, ChainOperationOptions options)
    {
        long length = top.Length;
        var buffer = new byte[ChunkSize];
        options.Progress?.Invoke(0);
        for (long pos = 0; pos < length;)
        {
            options.Cancellation.ThrowIfCancellationRequested();
            var status = top.GetBlockStatus(pos, Math.Min(length - pos, 64L * ChunkSize));
            long runEnd = pos + status.Length;
            if (status.Depth >= baseDepth)
            {
                pos = runEnd;
            }
            else if (status.IsZero)
            {
                baseDisk.WriteZeroes(pos, status.Length, mayUnmap: true);
                pos = runEnd;
            }
            else
            {
                while (pos < runEnd)
                {
                    options.Cancellation.ThrowIfCancellationRequested();
                    int n = (int)Math.Min(runEnd - pos, ChunkSize);
                    top.Read(pos, buffer.AsSpan(0, n));
                    baseDisk.Write(pos, buffer.AsSpan(0, n));
                    pos += n;
                    options.Progress?.Invoke((double)pos / length);
                }
            }

            options.Progress?.Invoke((double)pos / length);
        }

        options.Progress?.Invoke(1);
    }

    /// <summary>One file of a backing chain: its path, its format as the image above names it (null: probed), and the name it is stored under.</summary>
    private sealed record ChainFile(string Path, string? Format, string? StoredName);

    /// <summary>The files of the (already validated) chain of <paramref name="path"/>, top first.</summary>
    private static List<ChainFile> ChainFiles(string path)
    {
        var chain = new List<ChainFile> { new(path, "qcow2", null) };
        for (int i = 0; i < BackingChain.MaxDepth; i++)
        {
            var current = chain[^1];
            if (current.Format == "raw" || (current.Format is null && DiskImage.ProbeFormat(current.Path) == "raw"))
            {
                break;
            }

            Qcow2.Format.Qcow2Header header;
            using (var file = FileBlockDevice.Open(current.Path, readOnly: true))
            {
                header = Qcow2.Metadata.HeaderStore.Read(file);
            }

            if (header.BackingFile is not { } name)
            {
                break;
            }

            chain.Add(new ChainFile(BackingChain.Resolve(current.Path, name), header.BackingFormat, name));
        }

        return chain;
    }

    /// <summary>
    /// The index of BASE in <paramref name="chain"/> (never the top): a layer whose stored backing name is exactly
    /// <paramref name="baseName"/>, or the same file as the name resolved against the image that names the layer or
    /// against the working directory.
    /// </summary>
    private static int? FindBase(List<ChainFile> chain, string baseName)
    {
        for (int i = 1; i < chain.Count; i++)
        {
            if (chain[i].StoredName == baseName)
            {
                return i;
            }

            string real = BackingChain.RealPath(chain[i].Path);
            foreach (string candidate in new[] { BackingChain.Resolve(chain[i - 1].Path, baseName), Path.GetFullPath(baseName) })
            {
                if (File.Exists(candidate) && BackingChain.RealPath(candidate) == real)
                {
                    return i;
                }
            }
        }

        return null;
    }

    /// <summary>A backing layer the image does not close (the operation closes the chain itself, top first).</summary>
    private sealed class NotOwned : IDisposable
    {
        public static readonly NotOwned Instance = new();

        public void Dispose()
        {
        }
    }
}
