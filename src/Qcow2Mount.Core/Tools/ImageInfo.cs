using System.Buffers.Binary;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Qcow2.Bitmaps;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Tools;

/// <summary>One internal snapshot as qemu-img info lists it.</summary>
public sealed record SnapshotInfo(string Id, string Name, long VmStateSize, long DateSeconds, long DateNanoseconds, long VmClockNanoseconds, long? Icount);

/// <summary>One persistent dirty bitmap (spec §11 bitmap directory entry) as qemu-img info lists it.</summary>
public sealed record BitmapInfo(string Name, long Granularity, IReadOnlyList<string> Flags);

/// <summary>The qcow2-specific part of qemu-img info (format-specific.data).</summary>
public sealed record Qcow2Details(string Compat, string CompressionType, bool LazyRefcounts, int RefcountBits, bool Corrupt, bool ExtendedL2, string? DataFile, bool DataFileRaw)
{
    public IReadOnlyList<BitmapInfo> Bitmaps { get; init; } = [];
}

/// <summary>
/// What qemu-img info reports about one image file, from an image opened read-only without its backing file
/// (dirty or corrupt images are described as they are).
/// </summary>
public sealed record ImageInfo
{
    public required string Filename { get; init; }

    /// <summary>"qcow2" or "raw".</summary>
    public required string Format { get; init; }

    public long VirtualSize { get; init; }

    /// <summary>Bytes allocated on the host (disk size).</summary>
    public long ActualSize { get; init; }

    public int? ClusterSize { get; init; }

    public bool DirtyFlag { get; init; }

    public string? BackingFilename { get; init; }

    /// <summary>The backing name joined to the image's directory the way qemu-img prints it (textually, not canonicalised).</summary>
    public string? FullBackingFilename { get; init; }

    public string? BackingFormat { get; init; }

    public Qcow2Details? Qcow2 { get; init; }

    public IReadOnlyList<SnapshotInfo> Snapshots { get; init; } = [];

    /// <summary>
    /// Describes <paramref name="path"/>; <paramref name="format"/> forces qcow2 or raw (null = probe, refusing what
    /// <see cref="DiskImage.ResolveFormat"/> refuses).
    /// </summary>
    public static ImageInfo Read(string path, string? format = null) => ReadAs(path, DiskImage.ResolveFormat(path, format));

    /// <summary>Describes <paramref name="path"/> as <paramref name="format"/>.</summary>
    private static ImageInfo ReadAs(string path, string format)
    {
        long actual = HostFile.AllocatedBytes(path);
        if (format == "raw")
        {
            return new ImageInfo { Filename = path, Format = "raw", VirtualSize = new FileInfo(path).Length, ActualSize = actual };
        }

        if (format != "qcow2")
        {
            throw new ArgumentException($"Unknown image format '{format}' (qcow2 or raw)");
        }

        // Opening validates the whole layout (tables, snapshot table, data file), so a broken image is refused
        // here with the engine's message, as qemu-img info refuses it.
        using var image = Qcow2Image.Open(path, new ImageOpenOptions { ReadOnly = true, FollowBacking = false, Lock = false });
        var h = image.Header;
        var snapshots = image.Snapshots;
        return new ImageInfo
        {
            Filename = path,
            Format = "qcow2",
            VirtualSize = h.Size,
            ActualSize = actual,
            ClusterSize = h.ClusterSize,
            DirtyFlag = h.IsDirty,
            BackingFilename = h.BackingFile,
            FullBackingFilename = h.BackingFile is { } b ? CombinePath(path, b) : null,
            BackingFormat = h.BackingFile is not null ? h.BackingFormat : null,
            Qcow2 = new Qcow2Details(
                h.Version == 2 ? "0.10" : "1.1",
                h.CompressionType == 1 ? "zstd" : "zlib",
                h.HasLazyRefcounts,
                1 << h.RefcountOrder,
                h.IsCorrupt,
                h.HasExtendedL2,
                h.HasExternalDataFile ? h.ExternalDataFile : null,
                h.IsDataFileRaw)
            {
                Bitmaps = ReadBitmaps(image.Qcow2File, h),
            },
            Snapshots = snapshots.Select(ToInfo).ToList(),
        };
    }

    /// <summary>The image and every backing file below it, top first; the chain must open as a whole.</summary>
    public static List<ImageInfo> ReadChain(string path, string? format = null)
    {
        format = DiskImage.ResolveFormat(path, format);
        if (format == "qcow2")
        {
            // Open the whole chain the way a mount would first: a missing layer, a loop, a device or a broken
            // layer is refused with the engine's message instead of being described.
            using var top = Qcow2Image.Open(path, new ImageOpenOptions { ReadOnly = true, Lock = false });
        }

        var chain = new List<ImageInfo>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var info = ReadAs(path, format);
        while (true)
        {
            chain.Add(info);
            if (info.FullBackingFilename is not { } next || !seen.Add(Path.GetFullPath(info.Filename)) || chain.Count > 64)
            {
                return chain;
            }

            // A backing layer is probed as the engine probes it (it is opened read-only, so never refused for its name).
            info = ReadAs(next, info.BackingFormat ?? DiskImage.ProbeFormat(next));
        }
    }

    /// <summary>qemu's path_combine: a relative name is appended to the directory part of the referring name, as text.</summary>
    public static string CombinePath(string referrer, string name) => Platform.HostPathRules.Current.Combine(referrer, name);

    /// <summary>The bitmap directory (validated when the image opened), when the bitmaps extension is present and consistent (autoclear bit 0).</summary>
    private static List<BitmapInfo> ReadBitmaps(IBlockDevice file, Qcow2Header h) =>
        BitmapDirectory.Read(file, h).Select(e => new BitmapInfo(e.Name, e.Granularity, Flags(e))).ToList();

    /// <summary>qemu-img's flag names, in its order.</summary>
    private static List<string> Flags(BitmapDirectoryEntry e)
    {
        var names = new List<string>();
        if (e.IsInUse)
        {
            names.Add("in-use");
        }

        if (e.IsAuto)
        {
            names.Add("auto");
        }

        return names;
    }

    /// <summary>A snapshot table entry as qemu-img shows it (VM state size from extra data when present, icount -1 = none).</summary>
    internal static SnapshotInfo ToInfo(SnapshotTableEntry s)
    {
        long vmState = s.ExtraData.Length >= 8 ? (long)BinaryPrimitives.ReadUInt64BigEndian(s.ExtraData) : s.VmStateSize32;
        long? icount = s.ExtraData.Length >= 24 ? (long)BinaryPrimitives.ReadUInt64BigEndian(s.ExtraData.AsSpan(16)) : null;
        if (icount == -1)
        {
            icount = null;
        }

        return new SnapshotInfo(s.Id, s.Name, vmState, s.DateSeconds, s.DateNanoseconds, (long)s.VmClockNanoseconds, icount);
    }
}
