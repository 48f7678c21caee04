using Qcow2Mount.Core.Qcow2;

namespace Qcow2Mount.Core.Tools;

/// <summary>One line of qemu-img map: a guest range, the layer that decides it, and where its data lives.</summary>
public sealed record MapEntry(long Start, long Length, int Depth, bool Present, bool Zero, bool Data, long? Offset, string? Filename);

/// <summary>
/// qemu-img map over an image and its backing chain: extents from <see cref="Qcow2Image.GetBlockStatus"/> (raw
/// layers, and data clusters of metadata-preallocated layers, refined by the host file's holes), merged the way qemu-img merges them (same depth, flags and file,
/// offsets contiguous or both absent).
/// </summary>
public static class ImageMap
{
    public static List<MapEntry> Build(string path, string? format = null, long start = 0, long? length = null)
    {
        format = DiskImage.ResolveFormat(path, format);
        var entries = new List<MapEntry>();
        if (format == "raw")
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            long size = RandomAccess.GetLength(handle);
            long end = Math.Min(size, start + (length ?? size));
            for (long pos = start; pos < end;)
            {
                var (isData, n) = HostFile.Extent(handle, pos, end - pos);
                Add(entries, new MapEntry(pos, n, 0, true, !isData, isData, pos, path));
                pos += n;
            }

            return entries;
        }

        var chain = ImageInfo.ReadChain(path, format);
        // The data file is named as the image names it (relative to the working directory, as QEMU opens it).
        var names = chain.Select(i => i.Qcow2?.DataFile ?? i.Filename).ToList();
        var recurse = chain.Select(i => i.Format == "qcow2" && MetadataPreallocation.Detect(i.Filename)).ToList();
        var rawHandles = new Dictionary<int, Microsoft.Win32.SafeHandles.SafeFileHandle>();
        try
        {
            using var image = Qcow2Image.Open(path, new ImageOpenOptions { ReadOnly = true });
            long end = Math.Min(image.Length, start + (length ?? image.Length));
            for (long pos = start; pos < end;)
            {
                var s = image.GetBlockStatus(pos, end - pos);
                var e = new MapEntry(pos, s.Length, s.Depth, s.IsPresent, s.IsZero, s.IsData, s.HostOffset >= 0 ? s.HostOffset : null, s.Depth < names.Count ? names[s.Depth] : null);
                if (s.IsRawLayer)
                {
                    // A raw layer: its host file's holes read as zeros.
                    var (isData, n) = HostFile.Extent(Handle(s.Depth, chain[s.Depth].Filename), s.HostOffset, s.Length);
                    e = e with { Length = n, Data = isData, Zero = !isData };
                }
                else if (e.Data && e.Offset is { } offset && s.Depth < recurse.Count && recurse[s.Depth])
                {
                    // Metadata-preallocated layer: a data cluster that is a hole in its file reads as zeros.
                    var (isData, n) = HostFile.Extent(Handle(-1 - s.Depth, names[s.Depth]), offset, s.Length);
                    e = e with { Length = n, Zero = !isData };
                }

                Add(entries, e);
                pos += e.Length;
            }
        }
        finally
        {
            foreach (var h in rawHandles.Values)
            {
                h.Dispose();
            }
        }

        return entries;

        // Host file handles by key: raw layer at depth d = d, data of the qcow2 layer at depth d = -1 - d.
        Microsoft.Win32.SafeHandles.SafeFileHandle Handle(int key, string file)
        {
            if (!rawHandles.TryGetValue(key, out var h))
            {
                h = File.OpenHandle(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                rawHandles[key] = h;
            }

            return h;
        }
    }

    private static void Add(List<MapEntry> entries, MapEntry next)
    {
        if (entries.Count > 0)
        {
            var last = entries[^1];
            bool offsetsJoin = (last.Offset is null && next.Offset is null)
                || (last.Offset is { } a && next.Offset is { } b && a + last.Length == b);
            if (last.Depth == next.Depth && last.Present == next.Present && last.Zero == next.Zero && last.Data == next.Data
                && last.Filename == next.Filename && offsetsJoin)
            {
                entries[^1] = last with { Length = last.Length + next.Length };
                return;
            }
        }

        entries.Add(next);
    }
}
