using System.Buffers.Binary;
using System.Text;
using Qcow2Mount.Core.Errors;

namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>
/// The image header and header extensions (spec §2 and §3), parsed from and written to cluster 0.
/// Parsing validates every field that can be checked without the rest of the file; unknown trailing
/// header bytes and unknown extensions are kept verbatim and written back.
/// </summary>
public sealed class Qcow2Header
{
    public const uint Magic = 0x514649FB;
    public const int V2Length = 72;
    public const int V3MinLength = 104;

    /// <summary>Length QEMU writes for v3 headers: 104 + compression_type + 7 bytes padding.</summary>
    public const int V3WrittenLength = 112;

    public const int MaxBackingFileNameLength = 1023;
    public const int MinClusterBits = 9;
    public const int MaxClusterBits = 21;

    public int Version { get; set; }

    public long BackingFileOffset { get; private set; }

    public string? BackingFile { get; set; }

    public int ClusterBits { get; set; }

    public long Size { get; set; }

    public uint CryptMethod { get; set; }

    public uint L1Size { get; set; }

    public long L1TableOffset { get; set; }

    public long RefcountTableOffset { get; set; }

    public uint RefcountTableClusters { get; set; }

    public uint SnapshotCount { get; set; }

    public long SnapshotsOffset { get; set; }

    public ulong IncompatibleFeatures { get; set; }

    public ulong CompatibleFeatures { get; set; }

    public ulong AutoclearFeatures { get; set; }

    public int RefcountOrder { get; set; } = 4;

    /// <summary>header_length as found in the file (72 for v2).</summary>
    public int HeaderLength { get; set; }

    /// <summary>0 = deflate ("zlib"), 1 = zstd.</summary>
    public byte CompressionType { get; set; }

    /// <summary>Header bytes past the 112 this program understands, kept verbatim.</summary>
    public byte[] UnknownHeaderBytes { get; set; } = [];

    /// <summary>All extensions in file order, known and unknown (the end marker excluded).</summary>
    public List<HeaderExtension> Extensions { get; } = new();

    public int ClusterSize => 1 << ClusterBits;

    public bool HasExtendedL2 => (IncompatibleFeatures & FeatureBits.IncompatibleExtendedL2) != 0;

    public bool HasExternalDataFile => (IncompatibleFeatures & FeatureBits.IncompatibleExternalDataFile) != 0;

    public bool IsDirty => (IncompatibleFeatures & FeatureBits.IncompatibleDirty) != 0;

    public bool IsCorrupt => (IncompatibleFeatures & FeatureBits.IncompatibleCorrupt) != 0;

    public bool HasLazyRefcounts => (CompatibleFeatures & FeatureBits.CompatibleLazyRefcounts) != 0;

    public bool IsDataFileRaw => (AutoclearFeatures & FeatureBits.AutoclearDataFileRaw) != 0;

    public string? BackingFormat
    {
        get => GetStringExtension(HeaderExtension.BackingFormat);
        set => SetStringExtension(HeaderExtension.BackingFormat, value);
    }

    public string? ExternalDataFile
    {
        get => GetStringExtension(HeaderExtension.ExternalDataFile);
        set => SetStringExtension(HeaderExtension.ExternalDataFile, value);
    }

    public ClusterGeometry Geometry => new(ClusterBits, HasExtendedL2, RefcountOrder);

    /// <summary>Reads cluster_bits from the first bytes, so the caller knows how much of the file is cluster 0.</summary>
    public static int PeekClusterBits(ReadOnlySpan<byte> start, string name)
    {
        if (start.Length < V2Length)
        {
            throw new ImageFormatException($"{name}: file is too short for a qcow2 header ({start.Length} bytes)");
        }

        uint magic = BinaryPrimitives.ReadUInt32BigEndian(start);
        if (magic != Magic)
        {
            throw new ImageFormatException($"{name}: not a qcow2 image (magic 0x{magic:x8})");
        }

        uint bits = BinaryPrimitives.ReadUInt32BigEndian(start[20..]);
        if (bits is < MinClusterBits or > MaxClusterBits)
        {
            throw new ImageFormatException($"{name}: cluster_bits {bits} is out of range ({MinClusterBits}..{MaxClusterBits})");
        }

        return (int)bits;
    }

    /// <summary>Parses cluster 0 (<paramref name="cluster0"/> may be shorter when the file is shorter).</summary>
    public static Qcow2Header Parse(ReadOnlySpan<byte> cluster0, string name)
    {
        int clusterBits = PeekClusterBits(cluster0, name);
        var h = new Qcow2Header();
        h.Version = (int)BinaryPrimitives.ReadUInt32BigEndian(cluster0[4..]);
        if (h.Version is not (2 or 3))
        {
            throw new UnsupportedFeatureException($"{name}: qcow2 version {h.Version} is not supported (2 and 3 are)");
        }

        h.ClusterBits = clusterBits;
        int clusterSize = 1 << clusterBits;
        h.BackingFileOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(cluster0[8..]);
        uint backingFileSize = BinaryPrimitives.ReadUInt32BigEndian(cluster0[16..]);
        ulong rawSize = BinaryPrimitives.ReadUInt64BigEndian(cluster0[24..]);
        h.CryptMethod = BinaryPrimitives.ReadUInt32BigEndian(cluster0[32..]);
        h.L1Size = BinaryPrimitives.ReadUInt32BigEndian(cluster0[36..]);
        h.L1TableOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(cluster0[40..]);
        h.RefcountTableOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(cluster0[48..]);
        h.RefcountTableClusters = BinaryPrimitives.ReadUInt32BigEndian(cluster0[56..]);
        h.SnapshotCount = BinaryPrimitives.ReadUInt32BigEndian(cluster0[60..]);
        h.SnapshotsOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(cluster0[64..]);

        if (rawSize > long.MaxValue / 2)
        {
            throw new ImageFormatException($"{name}: virtual size {rawSize} is too large");
        }

        h.Size = (long)rawSize;

        if (h.Version == 2)
        {
            h.HeaderLength = V2Length;
            h.RefcountOrder = 4;
        }
        else
        {
            if (cluster0.Length < V3MinLength)
            {
                throw new ImageFormatException($"{name}: file is too short for a version 3 header");
            }

            h.IncompatibleFeatures = BinaryPrimitives.ReadUInt64BigEndian(cluster0[72..]);
            h.CompatibleFeatures = BinaryPrimitives.ReadUInt64BigEndian(cluster0[80..]);
            h.AutoclearFeatures = BinaryPrimitives.ReadUInt64BigEndian(cluster0[88..]);
            uint order = BinaryPrimitives.ReadUInt32BigEndian(cluster0[96..]);
            uint length = BinaryPrimitives.ReadUInt32BigEndian(cluster0[100..]);
            if (length < V3MinLength)
            {
                throw new ImageFormatException($"{name}: header_length {length} is below the version 3 minimum of {V3MinLength}");
            }

            if (length > clusterSize || length > cluster0.Length)
            {
                throw new ImageFormatException($"{name}: header_length {length} exceeds the cluster size {clusterSize}");
            }

            if (order > 6)
            {
                throw new ImageFormatException($"{name}: refcount_order {order} is out of range (0..6)");
            }

            h.RefcountOrder = (int)order;
            h.HeaderLength = (int)length;
            if (length > 104)
            {
                h.CompressionType = cluster0[104];
            }

            if (length > V3WrittenLength)
            {
                h.UnknownHeaderBytes = cluster0[V3WrittenLength..(int)length].ToArray();
            }
        }

        h.CheckFeatures(name);

        if (h.BackingFileOffset != 0)
        {
            if (backingFileSize > MaxBackingFileNameLength)
            {
                throw new ImageFormatException($"{name}: backing file name length {backingFileSize} exceeds {MaxBackingFileNameLength}");
            }

            if (h.BackingFileOffset < h.HeaderLength || h.BackingFileOffset + backingFileSize > clusterSize)
            {
                throw new ImageFormatException($"{name}: backing file name at offset {h.BackingFileOffset} is outside the header cluster");
            }

            if (h.BackingFileOffset + backingFileSize > cluster0.Length)
            {
                throw new ImageFormatException($"{name}: backing file name at offset {h.BackingFileOffset} is beyond the end of the file");
            }

            var bytes = cluster0.Slice((int)h.BackingFileOffset, (int)backingFileSize);
            if (bytes.Contains((byte)0))
            {
                throw new ImageFormatException($"{name}: backing file name contains a NUL byte");
            }

            h.BackingFile = DecodeUtf8(bytes, name, "backing file name");
        }

        int extensionEnd = h.BackingFileOffset != 0 ? (int)h.BackingFileOffset : Math.Min(clusterSize, cluster0.Length);
        h.ParseExtensions(cluster0[..extensionEnd], name);
        h.CheckIncompatibleFeatures(name);
        h.CheckCompressionType(name);
        return h;
    }

    /// <summary>Writes the header, extensions and backing file name into <paramref name="cluster0"/> (cleared first).</summary>
    public void Serialize(Span<byte> cluster0)
    {
        cluster0.Clear();
        BinaryPrimitives.WriteUInt32BigEndian(cluster0, Magic);
        BinaryPrimitives.WriteUInt32BigEndian(cluster0[4..], (uint)Version);
        BinaryPrimitives.WriteUInt32BigEndian(cluster0[20..], (uint)ClusterBits);
        BinaryPrimitives.WriteUInt64BigEndian(cluster0[24..], (ulong)Size);
        BinaryPrimitives.WriteUInt32BigEndian(cluster0[32..], CryptMethod);
        BinaryPrimitives.WriteUInt32BigEndian(cluster0[36..], L1Size);
        BinaryPrimitives.WriteUInt64BigEndian(cluster0[40..], (ulong)L1TableOffset);
        BinaryPrimitives.WriteUInt64BigEndian(cluster0[48..], (ulong)RefcountTableOffset);
        BinaryPrimitives.WriteUInt32BigEndian(cluster0[56..], RefcountTableClusters);
        BinaryPrimitives.WriteUInt32BigEndian(cluster0[60..], SnapshotCount);
        BinaryPrimitives.WriteUInt64BigEndian(cluster0[64..], (ulong)SnapshotsOffset);

        int pos;
        if (Version == 2)
        {
            pos = V2Length;
        }
        else
        {
            int length = V3WrittenLength + UnknownHeaderBytes.Length;
            BinaryPrimitives.WriteUInt64BigEndian(cluster0[72..], IncompatibleFeatures);
            BinaryPrimitives.WriteUInt64BigEndian(cluster0[80..], CompatibleFeatures);
            BinaryPrimitives.WriteUInt64BigEndian(cluster0[88..], AutoclearFeatures);
            BinaryPrimitives.WriteUInt32BigEndian(cluster0[96..], (uint)RefcountOrder);
            BinaryPrimitives.WriteUInt32BigEndian(cluster0[100..], (uint)length);
            cluster0[104] = CompressionType;
            UnknownHeaderBytes.CopyTo(cluster0[V3WrittenLength..]);
            HeaderLength = length;
            pos = (length + 7) & ~7;
        }

        foreach (var ext in OrderedExtensions())
        {
            if (pos + ext.EncodedLength + 8 > cluster0.Length)
            {
                throw new ImageFormatException("header extensions do not fit in the first cluster");
            }

            BinaryPrimitives.WriteUInt32BigEndian(cluster0[pos..], ext.Type);
            BinaryPrimitives.WriteUInt32BigEndian(cluster0[(pos + 4)..], (uint)ext.Data.Length);
            ext.Data.CopyTo(cluster0[(pos + 8)..]);
            pos += ext.EncodedLength;
        }

        pos += 8; // end marker (zeros)
        if (BackingFile is { } backing)
        {
            byte[] name = Encoding.UTF8.GetBytes(backing);
            if (name.Length > MaxBackingFileNameLength || pos + name.Length > cluster0.Length)
            {
                throw new ImageFormatException($"backing file name '{backing}' is too long");
            }

            BackingFileOffset = pos;
            BinaryPrimitives.WriteUInt64BigEndian(cluster0[8..], (ulong)pos);
            BinaryPrimitives.WriteUInt32BigEndian(cluster0[16..], (uint)name.Length);
            name.CopyTo(cluster0[pos..]);
        }
        else
        {
            BackingFileOffset = 0;
        }
    }

    /// <summary>The feature-name table QEMU writes (omitted for clusters of 4 KiB or less, for space).</summary>
    public static byte[] StandardFeatureNameTable()
    {
        (FeatureKind Kind, int Bit)[] known =
        [
            (FeatureKind.Incompatible, 0), (FeatureKind.Incompatible, 1), (FeatureKind.Incompatible, 2),
            (FeatureKind.Incompatible, 3), (FeatureKind.Incompatible, 4), (FeatureKind.Compatible, 0),
            (FeatureKind.Autoclear, 0), (FeatureKind.Autoclear, 1),
        ];
        var table = new byte[known.Length * 48];
        for (int i = 0; i < known.Length; i++)
        {
            table[i * 48] = (byte)known[i].Kind;
            table[(i * 48) + 1] = (byte)known[i].Bit;
            Encoding.ASCII.GetBytes(FeatureBits.KnownName(known[i].Kind, known[i].Bit)!).CopyTo(table, (i * 48) + 2);
        }

        return table;
    }

    public HeaderExtension? FindExtension(uint type) => Extensions.Find(e => e.Type == type);

    public void RemoveExtension(uint type) => Extensions.RemoveAll(e => e.Type == type);

    private static string DecodeUtf8(ReadOnlySpan<byte> bytes, string name, string what)
    {
        try
        {
            return new UTF8Encoding(false, true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new ImageFormatException($"{name}: {what} is not valid UTF-8");
        }
    }

    private IEnumerable<HeaderExtension> OrderedExtensions()
    {
        uint[] order = [HeaderExtension.BackingFormat, HeaderExtension.ExternalDataFile, HeaderExtension.FullDiskEncryption, HeaderExtension.FeatureNameTable, HeaderExtension.Bitmaps];
        foreach (uint type in order)
        {
            if (FindExtension(type) is { } e)
            {
                yield return e;
            }
        }

        foreach (var e in Extensions)
        {
            if (Array.IndexOf(order, e.Type) < 0)
            {
                yield return e;
            }
        }
    }

    private void CheckFeatures(string name)
    {
        if (CryptMethod != 0)
        {
            string method = CryptMethod switch { 1 => "AES", 2 => "LUKS", _ => $"method {CryptMethod}" };
            throw new UnsupportedFeatureException($"{name}: encrypted images ({method}) are not supported");
        }

        if (HasExtendedL2 && ClusterBits < 14)
        {
            throw new UnsupportedFeatureException($"{name}: subcluster size {ClusterSize / 32} is unsupported (extended L2 needs clusters of at least 16 KiB)");
        }
    }

    private void CheckCompressionType(string name)
    {
        bool flag = (IncompatibleFeatures & FeatureBits.IncompatibleCompressionType) != 0;
        if (CompressionType > 1)
        {
            throw new UnsupportedFeatureException($"{name}: compression type {CompressionType} is not supported (0 zlib, 1 zstd)");
        }

        if (flag != (CompressionType != 0))
        {
            throw new ImageFormatException($"{name}: compression_type {CompressionType} does not match incompatible feature bit 3");
        }
    }

    /// <summary>Refuses unknown incompatible bits, naming them from the image's own feature-name table when it has one.</summary>
    public void CheckIncompatibleFeatures(string name)
    {
        ulong unknown = IncompatibleFeatures & ~FeatureBits.IncompatibleKnown;
        if (unknown == 0)
        {
            return;
        }

        var names = new List<string>();
        var table = FindExtension(HeaderExtension.FeatureNameTable)?.Data ?? [];
        for (int bit = 0; bit < 64; bit++)
        {
            if ((unknown & (1UL << bit)) == 0)
            {
                continue;
            }

            string? featureName = null;
            for (int i = 0; i + 48 <= table.Length; i += 48)
            {
                if (table[i] == (byte)FeatureKind.Incompatible && table[i + 1] == bit)
                {
                    featureName = Encoding.ASCII.GetString(table, i + 2, 46).TrimEnd('\0');
                }
            }

            names.Add(featureName is { Length: > 0 } ? $"{featureName} (bit {bit})" : $"bit {bit}");
        }

        throw new UnsupportedFeatureException($"{name}: unsupported incompatible feature(s): {string.Join(", ", names)}");
    }

    private void ParseExtensions(ReadOnlySpan<byte> area, string name)
    {
        int pos = Version == 2 ? V2Length : (HeaderLength + 7) & ~7;
        var seen = new HashSet<uint>();
        while (pos + 8 <= area.Length)
        {
            uint type = BinaryPrimitives.ReadUInt32BigEndian(area[pos..]);
            uint length = BinaryPrimitives.ReadUInt32BigEndian(area[(pos + 4)..]);
            if (type == HeaderExtension.EndMarker)
            {
                return;
            }

            if (length > area.Length - pos - 8)
            {
                throw new ImageFormatException($"{name}: header extension 0x{type:x8} at offset {pos} has length {length}, beyond the header area");
            }

            var data = area.Slice(pos + 8, (int)length).ToArray();
            if (type != HeaderExtension.FeatureNameTable && !seen.Add(type) && IsKnown(type))
            {
                throw new ImageFormatException($"{name}: header extension 0x{type:x8} appears twice");
            }

            ValidateExtension(type, data, name);
            Extensions.Add(new HeaderExtension(type, data));
            pos += 8 + (int)((length + 7) & ~7u);
        }
    }

    private static bool IsKnown(uint type) => type is HeaderExtension.BackingFormat or HeaderExtension.FeatureNameTable
        or HeaderExtension.Bitmaps or HeaderExtension.FullDiskEncryption or HeaderExtension.ExternalDataFile;

    private void ValidateExtension(uint type, byte[] data, string name)
    {
        switch (type)
        {
            case HeaderExtension.BackingFormat:
            case HeaderExtension.ExternalDataFile:
                if (data.Length == 0 || data.Length > MaxBackingFileNameLength || Array.IndexOf(data, (byte)0) >= 0)
                {
                    throw new ImageFormatException($"{name}: header extension 0x{type:x8} holds an invalid name of {data.Length} bytes");
                }

                DecodeUtf8(data, name, "header extension string");
                break;
            case HeaderExtension.Bitmaps:
                if (data.Length != 24)
                {
                    throw new ImageFormatException($"{name}: bitmaps extension has length {data.Length}, expected 24");
                }

                break;
            case HeaderExtension.FullDiskEncryption:
                if (data.Length != 16)
                {
                    throw new ImageFormatException($"{name}: encryption header extension has length {data.Length}, expected 16");
                }

                break;
        }
    }

    private string? GetStringExtension(uint type) =>
        FindExtension(type) is { } e ? Encoding.UTF8.GetString(e.Data) : null;

    private void SetStringExtension(uint type, string? value)
    {
        int index = Extensions.FindIndex(e => e.Type == type);
        if (value is null)
        {
            if (index >= 0)
            {
                Extensions.RemoveAt(index);
            }

            return;
        }

        var ext = new HeaderExtension(type, Encoding.UTF8.GetBytes(value));
        if (index >= 0)
        {
            Extensions[index] = ext;
        }
        else
        {
            Extensions.Add(ext);
        }
    }
}
