using Qcow2Mount.Core.Qcow2.Format;

namespace Qcow2Mount.Core.Qcow2.Create;

/// <summary>How much of a new image is allocated up front (qemu-img's <c>preallocation</c> option, the two modes we support).</summary>
public enum Qcow2Preallocation
{
    /// <summary>Only the header, refcount structures and the L1 table.</summary>
    Off,

    /// <summary>Also every L2 table and a host cluster for every guest cluster (the file is sparse).</summary>
    Metadata,
}

/// <summary>
/// Parameters of a new qcow2 image (qemu-img create's <c>-o</c> options). Defaults are ours: extended L2 on with
/// 128 KiB clusters (32 subclusters of 4 KiB), 64 KiB clusters without extended L2, v3, 16-bit refcounts.
/// </summary>
public sealed record Qcow2CreateOptions
{
    public const int DefaultClusterSizeExtendedL2 = 128 * 1024;
    public const int DefaultClusterSize = 64 * 1024;

    /// <summary>QEMU's L1 limit (32 MiB of entries) bounds the virtual size.</summary>
    public const long MaxL1Entries = (32L << 20) / 8;

    /// <summary>Virtual size in bytes (rounded up to 512 bytes, as qemu-img does).</summary>
    public long Size { get; init; }

    /// <summary>Cluster size in bytes; null = the default for the chosen L2 entry format.</summary>
    public int? ClusterSize { get; init; }

    /// <summary>Extended L2 entries (subclusters); null = on unless compat=0.10 or an explicit cluster size below 16 KiB.</summary>
    public bool? ExtendedL2 { get; init; }

    public int RefcountBits { get; init; } = 16;

    /// <summary>2 (compat=0.10) or 3 (compat=1.1).</summary>
    public int Version { get; init; } = 3;

    public bool LazyRefcounts { get; init; }

    /// <summary>0 = deflate ("zlib"), 1 = zstd.</summary>
    public byte CompressionType { get; init; }

    public string? BackingFile { get; init; }

    public string? BackingFormat { get; init; }

    public string? DataFile { get; init; }

    public bool DataFileRaw { get; init; }

    public Qcow2Preallocation Preallocation { get; init; }

    public bool EffectiveExtendedL2 => ExtendedL2 ?? (Version >= 3 && ClusterSize is null or >= 16384);

    public int EffectiveClusterSize => ClusterSize ?? (EffectiveExtendedL2 ? DefaultClusterSizeExtendedL2 : DefaultClusterSize);

    /// <summary>Size rounded up to a multiple of 512, as stored in the header.</summary>
    public long AlignedSize => (Size + 511) & ~511L;

    public ClusterGeometry Geometry =>
        new(System.Numerics.BitOperations.Log2((uint)EffectiveClusterSize), EffectiveExtendedL2, System.Numerics.BitOperations.Log2((uint)RefcountBits));

    /// <summary>Throws <see cref="ArgumentException"/> with qemu-img's reason when the combination is invalid.</summary>
    public void Validate()
    {
        int cs = EffectiveClusterSize;
        if (cs < 512 || cs > 2 * 1024 * 1024 || (cs & (cs - 1)) != 0)
        {
            throw new ArgumentException("Cluster size must be a power of two between 512 and 2048k");
        }

        if (RefcountBits is < 1 or > 64 || (RefcountBits & (RefcountBits - 1)) != 0)
        {
            throw new ArgumentException("Refcount width must be a power of two and may not exceed 64 bits");
        }

        if (Version is not (2 or 3))
        {
            throw new ArgumentException($"compat level {Version} is not supported (0.10 or 1.1)");
        }

        if (Size < 0)
        {
            throw new ArgumentException("Image size must be a non-negative number of bytes");
        }

        if (CompressionType > 1)
        {
            throw new ArgumentException($"compression type {CompressionType} is not supported (zlib or zstd)");
        }

        if (Version == 2)
        {
            string? v3Only = LazyRefcounts ? "Lazy refcounts"
                : ExtendedL2 == true ? "Extended L2 entries"
                : CompressionType != 0 ? "Non-zlib compression type"
                : DataFile is not null ? "External data files"
                : null;
            if (RefcountBits != 16)
            {
                throw new ArgumentException("Different refcount widths than 16 bits require compatibility level 1.1 or above (use version=v3 or greater)");
            }

            if (v3Only is not null)
            {
                throw new ArgumentException($"{v3Only} {(v3Only.EndsWith('s') ? "are" : "is")} only supported with compatibility level 1.1 and above (use version=v3 or greater)");
            }
        }

        if (EffectiveExtendedL2 && cs < 16384)
        {
            throw new ArgumentException("Extended L2 entries are only supported with cluster sizes of at least 16384 bytes");
        }

        if (DataFileRaw && DataFile is null)
        {
            throw new ArgumentException("data-file-raw requires data-file");
        }

        if (DataFileRaw && BackingFile is not null)
        {
            throw new ArgumentException("Backing file and data-file-raw cannot be used at the same time");
        }

        if (BackingFormat is not null && BackingFile is null)
        {
            throw new ArgumentException("Backing format cannot be used without backing file");
        }

        if (BackingFile is not null && Preallocation != Qcow2Preallocation.Off && !EffectiveExtendedL2)
        {
            throw new ArgumentException("Backing file and preallocation can only be used at the same time if extended_l2 is on");
        }

        if (BackingFile is { Length: > Qcow2Header.MaxBackingFileNameLength })
        {
            throw new ArgumentException($"Backing file name is longer than {Qcow2Header.MaxBackingFileNameLength} bytes");
        }

        var geo = Geometry;
        if (geo.L1EntriesFor(AlignedSize) > MaxL1Entries || AlignedSize > long.MaxValue / 2)
        {
            throw new ArgumentException("The image size is too large for file format 'qcow2' (try using a larger cluster size)");
        }
    }
}
