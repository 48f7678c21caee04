using System.Buffers.Binary;
using System.Text;
using Qcow2Mount.Core.Errors;

namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>
/// The image header and header extensions (spec §2 and §3), parsed from and written to cluster 0. An immutable
/// value: a change is a new header (<c>with</c> expressions, <see cref="WithStringExtension"/>), which the owner
/// writes back in one place. Parsing validates every field that can be checked without the rest of the file;
/// unknown trailing header bytes and unknown extensions are kept verbatim and written back.
/// </summary>
public sealed record Qcow2Header
{
    public const uint Magic = 0x514649FB;
    public const int V2Length = 72;
    public const int V3MinLength = 104;

    /// <summary>Length QEMU writes for v3 headers: 104 + compression_type + 7 bytes padding.</summary>
    public const int V3WrittenLength = 112;

    public const int MaxBackingFileNameLength = 1023;
    public const int MinClusterBits = 9;
    public const int MaxClusterBits = 21;

    public int Version { get; init; }

    /// <summary>backing_file_offset as found in the file (0 = none); <see cref="Serialize"/> places the name anew.</summary>
    public long BackingFileOffset { get; init; }

    public string? BackingFile { get; init; }

    public int ClusterBits { get; init; }

    public long Size { get; init; }

    public uint CryptMethod { get; init; }

    public uint L1Size { get; init; }

    public long L1TableOffset { get; init; }

    public long RefcountTableOffset { get; init; }

    public uint RefcountTableClusters { get; init; }

    public uint SnapshotCount { get; init; }

    public long SnapshotsOffset { get; init; }

    public ulong IncompatibleFeatures { get; init; }

    public ulong CompatibleFeatures { get; init; }

    public ulong AutoclearFeatures { get; init; }

    public int RefcountOrder { get; init; } = 4;

    /// <summary>header_length as found in the file (72 for v2); <see cref="Serialize"/> writes its own.</summary>
    public int HeaderLength { get; init; }

    /// <summary>0 = deflate ("zlib"), 1 = zstd.</summary>
    public byte CompressionType { get; init; }

    /// <summary>Header bytes past the 112 this program understands, kept verbatim.</summary>
    public byte[] UnknownHeaderBytes { get; init; } = [];

    /// <summary>All extensions in file order, known and unknown (the end marker excluded).</summary>
    public IReadOnlyList<HeaderExtension> Extensions { get; init; } = [];

    public int ClusterSize => 1 << ClusterBits;

    public bool HasExtendedL2 => (IncompatibleFeatures & FeatureBits.IncompatibleExtendedL2) != 0;

    public bool HasExternalDataFile => (IncompatibleFeatures & FeatureBits.IncompatibleExternalDataFile) != 0;

    public bool IsDirty => (IncompatibleFeatures & FeatureBits.IncompatibleDirty) != 0;

    public bool IsCorrupt => (IncompatibleFeatures & FeatureBits.IncompatibleCorrupt) != 0;

    public bool HasLazyRefcounts => (CompatibleFeatures & FeatureBits.CompatibleLazyRefcounts) != 0;

    public bool IsDataFileRaw => (AutoclearFeatures & FeatureBits.AutoclearDataFileRaw) != 0;

    public string? BackingFormat => GetStringExtension(HeaderExtension.BackingFormat);

    public string? ExternalDataFile => GetStringExtension(HeaderExtension.ExternalDataFile);

    public ClusterGeometry Geometry => new(ClusterBits, HasExtendedL2, RefcountOrder);

    /// <summary>The same header with incompatible feature <paramref name="bit"/> set or cleared.</summary>
    public Qcow2Header WithIncompatible(ulong bit, bool set) =>
        this with { IncompatibleFeatures = set ? IncompatibleFeatures | bit : IncompatibleFeatures & ~bit };

    /// <summary>
    /// The same header with the string extension <paramref name="type"/> (backing format, data file name) set to
    /// <paramref name="value"/> in place, appended, or removed (null).
    /// </summary>
    public Qcow2Header WithStringExtension(uint type, string? value)
    {
        var extensions = new List<HeaderExtension>(Extensions);
        int index = extensions.FindIndex(e => e.Type == type);
        if (value is null)
        {
            if (index >= 0)
            {
                extensions.RemoveAt(index);
            }
        }
        else if (index >= 0)
        {
            extensions[index] = new HeaderExtension(type, Encoding.UTF8.GetBytes(value));
        }
        else
        {
            extensions.Add(new HeaderExtension(type, Encoding.UTF8.GetBytes(value)));
        }

        return this with { Extensions = extensions };
    }

    /// <summary>The same header with <paramref name="extension"/> appended.</summary>
    public Qcow2Header WithExtension(HeaderExtension extension) => this with { Extensions = [.. Extensions, extension] };

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
        int version = (int)BinaryPrimitives.ReadUInt32BigEndian(cluster0[4..]);
        if (version is not (2 or 3))
        {
            throw new UnsupportedFeatureException($"{name}: qcow2 version {version} is not supported (2 and 3 are)");
        }

        int clusterSize = 1 << clusterBits;
        long backingFileOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(cluster0[8..]);
        uint backingFileSize = BinaryPrimitives.ReadUInt32BigEndian(cluster0[16..]);
        ulong rawSize = BinaryPrimitives.ReadUInt64BigEndian(cluster0[24..]);
        if (rawSize > long.MaxValue / 2)
        {
            throw new ImageFormatException($"{name}: virtual size {rawSize} is too large");
        }

        var h = new Qcow2Header
        {
            Version = version,
            ClusterBits = clusterBits,
            BackingFileOffset = backingFileOffset,
            Size = (long)rawSize,
            CryptMethod = BinaryPrimitives.ReadUInt32BigEndian(cluster0[32..]),
            L1Size = BinaryPrimitives.ReadUInt32BigEndian(cluster0[36..]),
            L1TableOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(cluster0[40..]),
            RefcountTableOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(cluster0[48..]),
            RefcountTableClusters = BinaryPrimitives.ReadUInt32BigEndian(cluster0[56..]),
            SnapshotCount = BinaryPrimitives.ReadUInt32BigEndian(cluster0[60..]),
            SnapshotsOffset = (long)BinaryPrimitives.ReadUInt64BigEndian(cluster0[64..]),
            HeaderLength = V2Length,
        };

        if (version == 3)
        {
            if (cluster0.Length < V3MinLength)
            {
                throw new ImageFormatException($"{name}: file is too short for a version 3 header");
            }

            uint order = BinaryPrimitives.ReadUInt32BigEndian(cluster0[96..]);
            uint length = BinaryPrimitives.ReadUInt32BigEndian(cluster0[100..]);
            if (length < V3MinLength)
            {
                throw new ImageFormatException($"{name}: header_length {length} is below the version 3 minimum of {V3MinLength}");
            }

            if (length > clusterSize)
            {
                throw new ImageFormatException($"{name}: header_length {length} exceeds the cluster size {clusterSize}");
            }

            if (length > cluster0.Length)
            {
                throw new ImageFormatException($"{name}: header_length {length} runs past the end of the file ({cluster0.Length} bytes)");
            }

            if (order > 6)
            {
                throw new ImageFormatException($"{name}: refcount_order {order} is out of range (0..6)");
            }

            h = h with
            {
                IncompatibleFeatures = BinaryPrimitives.ReadUInt64BigEndian(cluster0[72..]),
                CompatibleFeatures = BinaryPrimitives.ReadUInt64BigEndian(cluster0[80..]),
                AutoclearFeatures = BinaryPrimitives.ReadUInt64BigEndian(cluster0[88..]),
                RefcountOrder = (int)order,
                HeaderLength = (int)length,
                CompressionType = length > 104 ? cluster0[104] : (byte)0,
                UnknownHeaderBytes = length > V3WrittenLength ? cluster0[V3WrittenLength..(int)length].ToArray() : [],
            };
        }

        h.CheckFeatures(name);

        if (backingFileOffset != 0)
        {
            if (backingFileSize > MaxBackingFileNameLength)
            {
                throw new ImageFormatException($"{name}: backing file name length {backingFileSize} exceeds {MaxBackingFileNameLength}");
            }

            // Compare without adding: a hostile offset near 2^63 would overflow the sum and pass.
            if (backingFileOffset < h.HeaderLength || backingFileOffset > clusterSize - backingFileSize)
            {
                throw new ImageFormatException($"{name}: backing_file_offset 0x{(ulong)backingFileOffset:x} (+{backingFileSize} bytes) is outside the header cluster");
            }

            if (backingFileOffset + backingFileSize > cluster0.Length)
            {
                throw new ImageFormatException($"{name}: backing file name at offset {backingFileOffset} is beyond the end of the file");
            }

            var bytes = cluster0.Slice((int)backingFileOffset, (int)backingFileSize);
            CheckNameBytes(bytes, name, "backing file name");
            h = h with { BackingFile = DecodeUtf8(bytes, name, "backing file name") };
        }

        int extensionEnd = backingFileOffset != 0 ? (int)backingFileOffset : Math.Min(clusterSize, cluster0.Length);
        h = h with { Extensions = ParseExtensions(cluster0[..extensionEnd], version == 2 ? V2Length : (h.HeaderLength + 7) & ~7, name) };
        h.CheckIncompatibleFeatures(name);
        h.CheckCompressionType(name);
        return h;
    }

    /// <summary>
    /// Writes the header, extensions and backing file name into <paramref name="cluster0"/> (cleared first) and
    /// returns the header as written: header_length and backing_file_offset as this layout places them.
    /// </summary>
    public Qcow2Header Serialize(Span<byte> cluster0)
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
        int headerLength = V2Length;
        if (Version == 2)
        {
            pos = V2Length;
        }
        else
        {
            headerLength = V3WrittenLength + UnknownHeaderBytes.Length;
            BinaryPrimitives.WriteUInt64BigEndian(cluster0[72..], IncompatibleFeatures);
            BinaryPrimitives.WriteUInt64BigEndian(cluster0[80..], CompatibleFeatures);
            BinaryPrimitives.WriteUInt64BigEndian(cluster0[88..], AutoclearFeatures);
            BinaryPrimitives.WriteUInt32BigEndian(cluster0[96..], (uint)RefcountOrder);
            BinaryPrimitives.WriteUInt32BigEndian(cluster0[100..], (uint)headerLength);
            cluster0[104] = CompressionType;
            UnknownHeaderBytes.CopyTo(cluster0[V3WrittenLength..]);
            pos = (headerLength + 7) & ~7;
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
        long backingFileOffset = 0;
        if (BackingFile is { } backing)
        {
            byte[] name = Encoding.UTF8.GetBytes(backing);
            if (name.Length > MaxBackingFileNameLength || pos + name.Length > cluster0.Length)
            {
                throw new ImageFormatException($"backing file name '{backing}' is too long");
            }

            backingFileOffset = pos;
            BinaryPrimitives.WriteUInt64BigEndian(cluster0[8..], (ulong)pos);
            BinaryPrimitives.WriteUInt32BigEndian(cluster0[16..], (uint)name.Length);
            name.CopyTo(cluster0[pos..]);
        }

        return this with { HeaderLength = headerLength, BackingFileOffset = backingFileOffset };
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

    public HeaderExtension? FindExtension(uint type)
    {
        foreach (var e in Extensions)
        {
            if (e.Type == type)
            {
                return e;
            }
        }

        return null;
    }

    /// <summary>
    /// Names from the file end up in paths and in one-line messages: refuse NUL and control characters (a newline
    /// or an escape sequence would forge output lines or drive the terminal).
    /// </summary>
    private static void CheckNameBytes(ReadOnlySpan<byte> bytes, string name, string what)
    {
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] < 0x20 || bytes[i] == 0x7F)
            {
                throw new ImageFormatException($"{name}: {what} contains control character 0x{bytes[i]:x2} at byte {i}");
            }
        }
    }

    /// <summary>Text from the file made safe for a one-line message: control characters become \xNN.</summary>
    internal static string Printable(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (char ch in text)
        {
            if (char.IsControl(ch))
            {
                sb.Append($"\\x{(int)ch:x2}");
            }
            else
            {
                sb.Append(ch);
            }
        }

        return sb.ToString();
    }

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
                    featureName = Printable(Encoding.ASCII.GetString(table, i + 2, 46).TrimEnd('\0'));
                }
            }

            names.Add(featureName is { Length: > 0 } ? $"{featureName} (bit {bit})" : $"bit {bit}");
        }

        throw new UnsupportedFeatureException($"{name}: unsupported incompatible feature(s): {string.Join(", ", names)}");
    }

    private static List<HeaderExtension> ParseExtensions(ReadOnlySpan<byte> area, int start, string name)
    {
        int pos = start;
        var extensions = new List<HeaderExtension>();
        var seen = new HashSet<uint>();
        while (pos + 8 <= area.Length)
        {
            uint type = BinaryPrimitives.ReadUInt32BigEndian(area[pos..]);
            uint length = BinaryPrimitives.ReadUInt32BigEndian(area[(pos + 4)..]);
            if (type == HeaderExtension.EndMarker)
            {
                return extensions;
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
            extensions.Add(new HeaderExtension(type, data));
            pos += 8 + (int)((length + 7) & ~7u);
        }

        return extensions;
    }

    private static bool IsKnown(uint type) => type is HeaderExtension.BackingFormat or HeaderExtension.FeatureNameTable
        or HeaderExtension.Bitmaps or HeaderExtension.FullDiskEncryption or HeaderExtension.ExternalDataFile;

    private static void ValidateExtension(uint type, byte[] data, string name)
    {
        switch (type)
        {
            case HeaderExtension.BackingFormat:
            case HeaderExtension.ExternalDataFile:
                if (data.Length == 0 || data.Length > MaxBackingFileNameLength)
                {
                    throw new ImageFormatException($"{name}: header extension 0x{type:x8} holds an invalid name of {data.Length} bytes");
                }

                CheckNameBytes(data, name, $"header extension 0x{type:x8}");
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
}
