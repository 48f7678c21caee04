using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Qcow2Mount.Core.Tests.Hostile;

/// <summary>
/// Writes small, spec-correct qcow2 images in memory, written from the spec (docs/qcow2-format.md) and not with
/// the engine's own serialisers, so that a hostile-input test can override exactly one field of a sound image
/// (crosvm's valid_header() idea). Layout, one structure per cluster, in this order:
/// header · refcount table · refcount block · L1 table · L2 table · data cluster (guest cluster 0) ·
/// compressed data (guest cluster 1, optional) · snapshot table + snapshot L1 (optional).
/// Guest cluster 2 reads as zero (zero flag / zero bits; v3 only) and guest cluster 3 is unallocated.
/// <see cref="Qcow2ImageBuilderTests"/> proves every variant clean with <c>qemu-img check</c> and <c>compare</c>.
/// </summary>
internal sealed class ImageBuilder
{
    /// <summary>Byte offsets of the header fields (spec §2).</summary>
    public static class Field
    {
        public const int Magic = 0;
        public const int Version = 4;
        public const int BackingFileOffset = 8;
        public const int BackingFileSize = 16;
        public const int ClusterBits = 20;
        public const int Size = 24;
        public const int CryptMethod = 32;
        public const int L1Size = 36;
        public const int L1TableOffset = 40;
        public const int RefcountTableOffset = 48;
        public const int RefcountTableClusters = 56;
        public const int SnapshotCount = 60;
        public const int SnapshotsOffset = 64;
        public const int IncompatibleFeatures = 72;
        public const int CompatibleFeatures = 80;
        public const int AutoclearFeatures = 88;
        public const int RefcountOrder = 96;
        public const int HeaderLength = 100;
        public const int CompressionType = 104;
    }

    public int Version { get; init; } = 3;

    public int ClusterBits { get; init; } = 16;

    public bool ExtendedL2 { get; init; }

    public int RefcountOrder { get; init; } = 4;

    /// <summary>Virtual size; 0 = 1 MiB or 8 clusters, whichever is larger.</summary>
    public long Size { get; init; }

    public string? BackingFile { get; init; }

    public string? BackingFormat { get; init; }

    public string? ExternalDataFile { get; init; }

    public bool Compressed { get; init; }

    /// <summary>0 = deflate, 1 = zstd (sets incompatible bit 3).</summary>
    public byte CompressionType { get; init; }

    public bool Snapshot { get; init; }

    /// <summary>Extra feature-name table entries (type, bit, name) after QEMU's standard eight.</summary>
    public IReadOnlyList<(byte Type, byte Bit, string Name)> ExtraFeatureNames { get; init; } = [];

    public int ClusterSize => 1 << ClusterBits;

    public long VirtualSize => Size > 0 ? Size : Math.Max(1L << 20, 8L * ClusterSize);

    public uint L1Entries => (uint)((VirtualSize + L2Coverage - 1) / L2Coverage);

    private long L2Coverage => (long)(ClusterSize / (ExtendedL2 ? 16 : 8)) * ClusterSize;

    // Layout (host offsets), valid after Build().
    public long RefcountTableOffset { get; private set; }

    public long RefcountBlockOffset { get; private set; }

    public long L1Offset { get; private set; }

    public long L2Offset { get; private set; }

    public long DataOffset { get; private set; }

    public long CompressedOffset { get; private set; }

    public int CompressedLength { get; private set; }

    public long SnapshotTableOffset { get; private set; }

    public long SnapshotL1Offset { get; private set; }

    /// <summary>Offset of the first header extension (72 for v2, 112 for v3).</summary>
    public int ExtensionsOffset => Version == 2 ? 72 : 112;

    public long BackingNameOffset { get; private set; }

    /// <summary>Offset in the file of the L2 entry for guest cluster <paramref name="guestCluster"/>.</summary>
    public long L2EntryOffset(int guestCluster) => L2Offset + ((long)guestCluster * (ExtendedL2 ? 16 : 8));

    /// <summary>Guest content of cluster 0 (stored plainly).</summary>
    public byte[] DataPattern() => Pattern(ClusterSize, i => (byte)((i * 31) + 7));

    /// <summary>Guest content of cluster 1 (stored compressed): period 251, so it compresses.</summary>
    public byte[] CompressedPattern() => Pattern(ClusterSize, i => (byte)((i % 251) + 1));

    /// <summary>The whole guest disk as a raw image.</summary>
    public byte[] ExpectedGuest()
    {
        var raw = new byte[VirtualSize];
        DataPattern().CopyTo(raw, 0);
        if (Compressed)
        {
            CompressedPattern().CopyTo(raw, ClusterSize);
        }

        return raw;
    }

    public byte[] Build()
    {
        if (ExtendedL2 && ClusterBits < 14)
        {
            throw new ArgumentException("extended L2 needs clusters of at least 16 KiB");
        }

        int c = ClusterSize;
        long next = 1;
        long Take(long clusters)
        {
            long at = next * c;
            next += clusters;
            return at;
        }

        RefcountTableOffset = Take(1);
        RefcountBlockOffset = Take(1);
        L1Offset = Take(((L1Entries * 8L) + c - 1) / c);
        L2Offset = Take(1);
        DataOffset = Take(1);
        byte[] compressed = [];
        if (Compressed)
        {
            compressed = Compress(CompressedPattern());
            CompressedLength = compressed.Length;
            CompressedOffset = Take((compressed.Length + c - 1) / c);
        }

        if (Snapshot)
        {
            SnapshotTableOffset = Take(1);
            SnapshotL1Offset = Take(((L1Entries * 8L) + c - 1) / c);
        }

        var image = new byte[next * c];
        WriteHeader(image);

        // Refcount table → one block → every cluster used so far has refcount 1.
        Put64(image, RefcountTableOffset, (ulong)RefcountBlockOffset);
        for (long i = 0; i < next; i++)
        {
            SetRefcount(image.AsSpan((int)RefcountBlockOffset, c), (int)i, 1);
        }

        // L1[0] → L2, COPIED; L2: cluster 0 data, 1 compressed, 2 zero, 3 unallocated.
        const ulong copied = 1UL << 63;
        Put64(image, L1Offset, (ulong)L2Offset | copied);
        PutL2(image, 0, (ulong)DataOffset | copied, ExtendedL2 ? 0xFFFFFFFFUL : 0);
        DataPattern().CopyTo(image, DataOffset);
        if (Compressed)
        {
            int x = 62 - (ClusterBits - 8);
            ulong sectors = (ulong)(((CompressedOffset + compressed.Length - 1) / 512) - (CompressedOffset / 512));
            PutL2(image, 1, (1UL << 62) | (sectors << x) | (ulong)CompressedOffset, 0);
            compressed.CopyTo(image, CompressedOffset);
        }

        if (Version >= 3)
        {
            if (ExtendedL2)
            {
                PutL2(image, 2, 0, 0xFFFFFFFF00000000UL);
            }
            else
            {
                PutL2(image, 2, 1, 0);
            }
        }

        if (Snapshot)
        {
            WriteSnapshotTable(image);
        }

        return image;
    }

    /// <summary>Stores the raw 64-bit descriptor and (extended L2) bitmap of guest cluster <paramref name="guestCluster"/>.</summary>
    public void PutL2(byte[] image, int guestCluster, ulong descriptor, ulong bitmap)
    {
        Put64(image, L2EntryOffset(guestCluster), descriptor);
        if (ExtendedL2)
        {
            Put64(image, L2EntryOffset(guestCluster) + 8, bitmap);
        }
    }

    public static void Put64(byte[] image, long offset, ulong value) =>
        BinaryPrimitives.WriteUInt64BigEndian(image.AsSpan((int)offset), value);

    public static void Put32(byte[] image, long offset, uint value) =>
        BinaryPrimitives.WriteUInt32BigEndian(image.AsSpan((int)offset), value);

    public static void Put16(byte[] image, long offset, ushort value) =>
        BinaryPrimitives.WriteUInt16BigEndian(image.AsSpan((int)offset), value);

    public static ulong Get64(byte[] image, long offset) =>
        BinaryPrimitives.ReadUInt64BigEndian(image.AsSpan((int)offset));

    /// <summary>Sets one refcount (spec §6: big-endian for ≥ 8 bits, sub-byte entries from the least significant bit).</summary>
    public void SetRefcount(Span<byte> block, int index, ulong value)
    {
        int bits = 1 << RefcountOrder;
        if (bits < 8)
        {
            int perByte = 8 / bits;
            int shift = index % perByte * bits;
            int mask = ((1 << bits) - 1) << shift;
            block[index / perByte] = (byte)((block[index / perByte] & ~mask) | (((int)value << shift) & mask));
            return;
        }

        int bytes = bits / 8;
        for (int i = 0; i < bytes; i++)
        {
            block[(index * bytes) + bytes - 1 - i] = (byte)(value >> (8 * i));
        }
    }

    private void WriteHeader(byte[] image)
    {
        Put32(image, Field.Magic, 0x514649FB);
        Put32(image, Field.Version, (uint)Version);
        Put32(image, Field.ClusterBits, (uint)ClusterBits);
        Put64(image, Field.Size, (ulong)VirtualSize);
        Put32(image, Field.L1Size, L1Entries);
        Put64(image, Field.L1TableOffset, (ulong)L1Offset);
        Put64(image, Field.RefcountTableOffset, (ulong)RefcountTableOffset);
        Put32(image, Field.RefcountTableClusters, 1);
        if (Snapshot)
        {
            Put32(image, Field.SnapshotCount, 1);
            Put64(image, Field.SnapshotsOffset, (ulong)SnapshotTableOffset);
        }

        int pos = 72;
        if (Version >= 3)
        {
            ulong incompatible = (ExtendedL2 ? 1UL << 4 : 0) | (CompressionType != 0 ? 1UL << 3 : 0) | (ExternalDataFile is null ? 0 : 1UL << 2);
            Put64(image, Field.IncompatibleFeatures, incompatible);
            Put32(image, Field.RefcountOrder, (uint)RefcountOrder);
            Put32(image, Field.HeaderLength, 112);
            image[Field.CompressionType] = CompressionType;
            pos = 112;
        }

        if (BackingFormat is not null)
        {
            pos = PutExtension(image, pos, 0xE2792ACA, Encoding.UTF8.GetBytes(BackingFormat));
        }

        if (ExternalDataFile is not null)
        {
            pos = PutExtension(image, pos, 0x44415441, Encoding.UTF8.GetBytes(ExternalDataFile));
        }

        if (Version >= 3 && (ClusterSize > 4096 || ExtraFeatureNames.Count > 0))
        {
            (byte, byte, string)[] standard =
            [
                (0, 0, "dirty bit"), (0, 1, "corrupt bit"), (0, 2, "external data file"), (0, 3, "compression type"),
                (0, 4, "extended L2 entries"), (1, 0, "lazy refcounts"), (2, 0, "bitmaps"), (2, 1, "raw external data"),
            ];
            var names = standard.Concat(ExtraFeatureNames).ToArray();
            var table = new byte[names.Length * 48];
            for (int i = 0; i < names.Length; i++)
            {
                table[i * 48] = names[i].Item1;
                table[(i * 48) + 1] = names[i].Item2;
                Encoding.ASCII.GetBytes(names[i].Item3).CopyTo(table, (i * 48) + 2);
            }

            pos = PutExtension(image, pos, 0x6803F857, table);
        }

        pos += 8; // end marker
        if (BackingFile is not null)
        {
            byte[] name = Encoding.UTF8.GetBytes(BackingFile);
            BackingNameOffset = pos;
            Put64(image, Field.BackingFileOffset, (ulong)pos);
            Put32(image, Field.BackingFileSize, (uint)name.Length);
            name.CopyTo(image, pos);
        }
    }

    private static int PutExtension(byte[] image, int pos, uint type, byte[] data)
    {
        Put32(image, pos, type);
        Put32(image, pos + 4, (uint)data.Length);
        data.CopyTo(image, pos + 8);
        return pos + 8 + ((data.Length + 7) & ~7);
    }

    private void WriteSnapshotTable(byte[] image)
    {
        long p = SnapshotTableOffset;
        Put64(image, p, (ulong)SnapshotL1Offset);
        Put32(image, p + 8, L1Entries);
        Put16(image, p + 12, 1); // id "1"
        Put16(image, p + 14, 4); // name "snap"
        Put32(image, p + 16, 1_700_000_000);
        Put32(image, p + 36, 16); // extra data: VM state size (64-bit) and disk size, required for v3
        Put64(image, p + 48, (ulong)VirtualSize);
        Encoding.ASCII.GetBytes("1snap").CopyTo(image, p + 56);
    }

    private byte[] Compress(byte[] data)
    {
        if (CompressionType == 1)
        {
            using var zstd = new ZstdSharp.Compressor(3);
            return zstd.Wrap(data).ToArray();
        }

        // Raw deflate; the data repeats every 251 bytes, far inside QEMU's 4 KiB inflate window.
        using var output = new MemoryStream();
        using (var deflate = new DeflateStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            deflate.Write(data);
        }

        return output.ToArray();
    }

    private static byte[] Pattern(int length, Func<int, byte> f)
    {
        var data = new byte[length];
        for (int i = 0; i < length; i++)
        {
            data[i] = f(i);
        }

        return data;
    }
}
