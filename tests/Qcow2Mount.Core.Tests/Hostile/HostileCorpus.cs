using Qcow2Mount.Core.Errors;
using static Qcow2Mount.Core.Tests.Hostile.ImageBuilder;

namespace Qcow2Mount.Core.Tests.Hostile;

/// <summary>
/// The hand-made broken images: each starts from a sound <see cref="ImageBuilder"/> image and breaks one thing.
/// Messages are matched on the field and the value they must name.
/// </summary>
internal static class HostileCorpus
{
    private const string ImageName = "image.qcow2";
    private const ulong Copied = 1UL << 63;
    private const ulong CompressedFlag = 1UL << 62;

    public static IEnumerable<HostileCase> Cases()
    {
        var fmt = typeof(ImageFormatException);
        var unsupported = typeof(UnsupportedFeatureException);
        var corrupt = typeof(ImageCorruptException);
        var chain = typeof(BackingChainException);

        // --- The file and the header (spec §2) ---
        yield return Open("empty file", Truncated(new ImageBuilder(), 0), fmt, "too short", "0 bytes");
        yield return Open("truncated to 50 bytes", Truncated(new ImageBuilder(), 50), fmt, "too short", "50 bytes");
        yield return Open("v3 header cut at 100 bytes", Truncated(new ImageBuilder(), 100), fmt, "too short for a version 3 header");
        yield return Open("truncated after the header cluster", Truncated(new ImageBuilder(), 65536), fmt, "l1_table_offset 0x30000", "beyond the end of the file");
        yield return Open("bad magic", Mutated(new ImageBuilder(), (_, i) => Put32(i, Field.Magic, 0x514649FA)), fmt, "magic 0x514649fa");
        yield return Open("version 4", Mutated(new ImageBuilder(), (_, i) => Put32(i, Field.Version, 4)), unsupported, "version 4");
        yield return Open("version 1", Mutated(new ImageBuilder(), (_, i) => Put32(i, Field.Version, 1)), unsupported, "version 1");
        yield return Open("cluster_bits 8", Mutated(new ImageBuilder(), (_, i) => Put32(i, Field.ClusterBits, 8)), fmt, "cluster_bits 8");
        yield return Open("cluster_bits 22", Mutated(new ImageBuilder(), (_, i) => Put32(i, Field.ClusterBits, 22)), fmt, "cluster_bits 22");
        yield return Open("cluster_bits 2^32-1", Mutated(new ImageBuilder(), (_, i) => Put32(i, Field.ClusterBits, uint.MaxValue)), fmt, "cluster_bits 4294967295");
        yield return Open("virtual size 2^63-1", Mutated(new ImageBuilder(), (_, i) => Put64(i, Field.Size, long.MaxValue)), fmt, "virtual size 9223372036854775807");
        yield return Open("virtual size 2^61 for a one-entry L1", Mutated(new ImageBuilder(), (_, i) => Put64(i, Field.Size, 1UL << 61)), fmt, "l1_size 1 is too small");
        yield return Open("l1_size 0", Mutated(new ImageBuilder(), (_, i) => Put32(i, Field.L1Size, 0)), fmt, "l1_size 0 is too small");
        yield return Open("l1_size 2^31 (16 GiB of L1)", Mutated(new ImageBuilder(), (_, i) => Put32(i, Field.L1Size, 1u << 31)), fmt, "l1_size 2147483648", "limit");
        yield return Open("l1_size 2^32-1", Mutated(new ImageBuilder(), (_, i) => Put32(i, Field.L1Size, uint.MaxValue)), fmt, "l1_size 4294967295");
        yield return Open("L1 table beyond the end of the file", Mutated(new ImageBuilder(), (_, i) => Put64(i, Field.L1TableOffset, 0x1000000)), fmt, "l1_table_offset 0x1000000", "beyond the end of the file");
        yield return Open("L1 table unaligned", Mutated(new ImageBuilder(), (b, i) => Put64(i, Field.L1TableOffset, (ulong)b.L1Offset + 0x200)), fmt, "l1_table_offset 0x30200", "not a cluster-aligned");
        yield return Open("L1 table offset 2^64-512", Mutated(new ImageBuilder(), (_, i) => Put64(i, Field.L1TableOffset, ulong.MaxValue - 511)), fmt, "l1_table_offset 0xfffffffffffffe00");
        yield return Open("L1 table overlapping the header", Mutated(new ImageBuilder(), (_, i) => Put64(i, Field.L1TableOffset, 0)), fmt, "L1 table at 0x0", "overlaps the header");
        yield return Open("refcount table overlapping the header", Mutated(new ImageBuilder(), (_, i) => Put64(i, Field.RefcountTableOffset, 0)), fmt, "refcount table at 0x0", "overlaps the header");
        yield return Open("refcount table overlapping the L1 table", Mutated(new ImageBuilder(), (b, i) => Put64(i, Field.RefcountTableOffset, (ulong)b.L1Offset)), fmt, "refcount table at 0x30000", "overlaps the L1 table");
        yield return Open("refcount table unaligned", Mutated(new ImageBuilder(), (b, i) => Put64(i, Field.RefcountTableOffset, (ulong)b.RefcountTableOffset + 8)), fmt, "refcount_table_offset 0x10008");
        yield return Open("refcount_table_clusters 0", Mutated(new ImageBuilder(), (_, i) => Put32(i, Field.RefcountTableClusters, 0)), fmt, "refcount_table_clusters is 0");
        yield return Open("refcount table claimed as 1 TiB", Mutated(new ImageBuilder(), (_, i) => Put32(i, Field.RefcountTableClusters, 1u << 24)), fmt, "refcount_table_clusters 16777216", "limit");
        yield return Open("refcount table past the end of the file", Mutated(new ImageBuilder(), (_, i) => Put32(i, Field.RefcountTableClusters, 100)), fmt, "refcount_table_offset 0x10000", "beyond the end of the file");
        yield return Open("refcount_order 7", Mutated(new ImageBuilder(), (_, i) => Put32(i, Field.RefcountOrder, 7)), fmt, "refcount_order 7");
        yield return Open("header_length 100 on v3", Mutated(new ImageBuilder(), (_, i) => Put32(i, Field.HeaderLength, 100)), fmt, "header_length 100");
        yield return Open("header_length beyond the cluster", Mutated(new ImageBuilder(), (_, i) => Put32(i, Field.HeaderLength, 65544)), fmt, "header_length 65544", "cluster size 65536");
        yield return Open("header extension length past the cluster", Mutated(new ImageBuilder(), (b, i) => Put32(i, b.ExtensionsOffset + 4, 0xFFFFFFF0)), fmt, "header extension 0x6803f857", "length 4294967280");
        yield return Open("header extension length one byte too long", Mutated(new ImageBuilder(), (b, i) => Put32(i, b.ExtensionsOffset + 4, (uint)(65536 - b.ExtensionsOffset - 8 + 1))), fmt, "header extension 0x6803f857", "beyond the header area");
        yield return Open("bitmaps extension of 8 bytes", Mutated(new ImageBuilder(), (b, i) => { Put32(i, b.ExtensionsOffset, 0x23852875); Put32(i, b.ExtensionsOffset + 4, 8); }), fmt, "bitmaps extension has length 8");
        yield return Open("crypt_method 1 (AES)", Mutated(new ImageBuilder(), (_, i) => Put32(i, Field.CryptMethod, 1)), unsupported, "encrypted", "AES");
        yield return Open("compression type 2", Mutated(new ImageBuilder(), (_, i) => { i[Field.CompressionType] = 2; i[Field.IncompatibleFeatures + 7] |= 8; }), unsupported, "compression type 2");
        yield return Open("zstd compression type without incompatible bit 3", Mutated(new ImageBuilder(), (_, i) => i[Field.CompressionType] = 1), fmt, "compression_type 1", "bit 3");
        yield return Open("extended L2 with 8 KiB clusters", Mutated(new ImageBuilder { ExtendedL2 = true }, (_, i) => Put32(i, Field.ClusterBits, 13)), unsupported, "subcluster size 256");
        yield return Open("unknown incompatible bit 5, no name for it", Mutated(new ImageBuilder(), (_, i) => i[Field.IncompatibleFeatures + 7] |= 0x20), unsupported, "incompatible feature", "bit 5");
        yield return Open("unknown incompatible bit 5, no feature-name table", Mutated(new ImageBuilder { ClusterBits = 12 }, (_, i) => i[Field.IncompatibleFeatures + 7] |= 0x20), unsupported, "incompatible feature", "bit 5");
        yield return Open("unknown incompatible bit 9 named in the feature table", Mutated(new ImageBuilder { ExtraFeatureNames = [(0, 9, "evil feature")] }, (_, i) => i[Field.IncompatibleFeatures + 6] |= 0x02), unsupported, "evil feature (bit 9)");
        yield return Open("feature name with a newline", Mutated(new ImageBuilder { ExtraFeatureNames = [(0, 9, "line1\nline2")] }, (_, i) => i[Field.IncompatibleFeatures + 6] |= 0x02), unsupported, "line1\\x0aline2 (bit 9)");
        yield return ReadWriteOpen("corrupt bit set", Mutated(new ImageBuilder(), (_, i) => i[Field.IncompatibleFeatures + 7] |= 0x02), fmt, "marked corrupt");

        // --- Backing file name (spec §2, §3) ---
        yield return Open("backing name longer than 1023", Mutated(new ImageBuilder { BackingFile = "base.raw" }, (_, i) => Put32(i, Field.BackingFileSize, 1024)), fmt, "backing file name length 1024");
        yield return Open("backing name past the header cluster", Mutated(new ImageBuilder { BackingFile = "base.raw" }, (_, i) => Put64(i, Field.BackingFileOffset, 65530)), fmt, "backing_file_offset 0xfffa", "outside the header cluster");
        yield return Open("backing_file_offset near 2^63 (sum overflows)", Mutated(new ImageBuilder { BackingFile = "base.raw" }, (_, i) => Put64(i, Field.BackingFileOffset, 0x7FFFFFFFFFFFFFFC)), fmt, "backing_file_offset 0x7ffffffffffffffc");
        yield return Open("backing_file_offset 2^64-1", Mutated(new ImageBuilder { BackingFile = "base.raw" }, (_, i) => Put64(i, Field.BackingFileOffset, ulong.MaxValue)), fmt, "backing_file_offset 0xffffffffffffffff");
        yield return Open("backing name with a newline", Image(new ImageBuilder { BackingFile = "base\nqcow2mount: all is well" }), fmt, "control character 0x0a");
        yield return Open("backing format with an escape sequence", Image(new ImageBuilder { BackingFile = "base.raw", BackingFormat = "\u001b[2Jraw" }), fmt, "0xe2792aca", "control character 0x1b");
        yield return Open("backing file naming itself", Image(new ImageBuilder { BackingFile = ImageName, BackingFormat = "qcow2" }), chain, "loops back");
        yield return Open("backing file naming itself, format probed", Image(new ImageBuilder { BackingFile = "./" + ImageName }), chain, "loops back");
        yield return Open("backing loop A→B→A", WithFiles(Image(new ImageBuilder { BackingFile = "b.qcow2", BackingFormat = "qcow2" }), ("b.qcow2", new ImageBuilder { BackingFile = ImageName, BackingFormat = "qcow2" })), chain, "loops back");
        yield return Open("missing backing file", Image(new ImageBuilder { BackingFile = "nonexistent.qcow2" }), chain, "'nonexistent.qcow2' does not exist");
        yield return Open("backing file is a FIFO", WithFifo(Image(new ImageBuilder { BackingFile = "pipe", BackingFormat = "raw" }), "pipe"), chain, "is a FIFO");
        yield return Open("backing file is /dev/zero", Image(new ImageBuilder { BackingFile = "/dev/zero", BackingFormat = "raw" }), chain, "/dev/zero", "character device", "--allow-backing-device");
        yield return Open("backing file is /proc/self/environ", Image(new ImageBuilder { BackingFile = "/proc/self/environ", BackingFormat = "raw" }), chain, "procfs", "--allow-backing-device");
        yield return Open("backing file is a directory", Image(new ImageBuilder { BackingFile = "/", BackingFormat = "raw" }), chain, "is a directory");
        yield return Open("backing chain 66 images deep", Chain(66), chain, "deeper than 64");
        yield return Open("external data file is the image itself", dir => Image(new ImageBuilder { ExternalDataFile = Path.Combine(dir, ImageName) })(dir), chain, "external data file", "image itself");

        // --- Snapshot table (spec §10) ---
        yield return Open("snapshot table beyond the end of the file", Mutated(new ImageBuilder { Snapshot = true }, (_, i) => Put64(i, Field.SnapshotsOffset, 0x1000000)), fmt, "snapshots_offset 0x1000000", "beyond the end of the file");
        yield return Open("snapshot table unaligned", Mutated(new ImageBuilder { Snapshot = true }, (b, i) => Put64(i, Field.SnapshotsOffset, (ulong)b.SnapshotTableOffset + 8)), fmt, "snapshots_offset", "not a cluster-aligned");
        yield return Open("snapshot table overlapping the L1 table", Mutated(new ImageBuilder { Snapshot = true }, (b, i) => Put64(i, Field.SnapshotsOffset, (ulong)b.L1Offset)), fmt, "snapshot table at 0x30000", "overlaps the L1 table");
        yield return Open("nb_snapshots 2^31", Mutated(new ImageBuilder { Snapshot = true }, (_, i) => Put32(i, Field.SnapshotCount, 1u << 31)), fmt, "nb_snapshots 2147483648");
        yield return Open("nb_snapshots 65536 with one entry", Mutated(new ImageBuilder { Snapshot = true }, (_, i) => Put32(i, Field.SnapshotCount, 65536)), fmt, "nb_snapshots 65536", "truncated at entry");
        yield return Open("snapshot extra data 4 GiB", Mutated(new ImageBuilder { Snapshot = true }, (b, i) => Put32(i, b.SnapshotTableOffset + 36, uint.MaxValue)), fmt, "snapshot 0 extra_data_size 4294967295");
        yield return Open("snapshot name past the end of the file", Mutated(new ImageBuilder { Snapshot = true }, (b, i) => { Put64(i, Field.SnapshotsOffset, (ulong)b.SnapshotL1Offset); Put16(i, b.SnapshotL1Offset + 14, 0xFFFF); Put16(i, b.SnapshotL1Offset + 12, 0xFFFF); }), fmt, "truncated at entry 0", "end of the file");
        yield return Open("snapshot L1 unaligned", Mutated(new ImageBuilder { Snapshot = true }, (b, i) => Put64(i, b.SnapshotTableOffset, (ulong)b.SnapshotL1Offset + 0x10)), fmt, "snapshot 0 l1_table_offset", "not a cluster-aligned");
        yield return Open("snapshot L1 beyond the end of the file", Mutated(new ImageBuilder { Snapshot = true }, (b, i) => Put64(i, b.SnapshotTableOffset, 0x10000000)), fmt, "snapshot 0 l1_table_offset 0x10000000", "beyond the end of the file");
        yield return Open("snapshot l1_size 2^32-1", Mutated(new ImageBuilder { Snapshot = true }, (b, i) => Put32(i, b.SnapshotTableOffset + 8, uint.MaxValue)), fmt, "snapshot 0 l1_size 4294967295");
        yield return Open("snapshot L1 overlapping the refcount table", Mutated(new ImageBuilder { Snapshot = true }, (b, i) => Put64(i, b.SnapshotTableOffset, (ulong)b.RefcountTableOffset)), fmt, "snapshot 0 l1_table_offset 0x10000", "overlaps the refcount table");
        yield return Open("snapshot ID length past the table", Mutated(new ImageBuilder { Snapshot = true }, (b, i) => Put16(i, b.SnapshotTableOffset + 12, 0xFFFF)), fmt, "snapshot 0 l1_table_offset 0x70000", "overlaps the snapshot table");
        yield return Open("snapshot name length past the table", Mutated(new ImageBuilder { Snapshot = true }, (b, i) => Put16(i, b.SnapshotTableOffset + 14, 0xFFFF)), fmt, "snapshot 0 l1_table_offset 0x70000", "overlaps the snapshot table");
        yield return Open("snapshot L1 overlapping the snapshot table", Mutated(new ImageBuilder { Snapshot = true }, (b, i) => Put64(i, b.SnapshotTableOffset, (ulong)b.SnapshotTableOffset)), fmt, "snapshot 0 l1_table_offset 0x60000", "overlaps the snapshot table");
        yield return Open("snapshot L1 at offset 0", Mutated(new ImageBuilder { Snapshot = true }, (b, i) => Put64(i, b.SnapshotTableOffset, 0)), fmt, "snapshot 0 l1_table_offset 0x0", "overlaps the header");
        yield return Open("nb_snapshots 65537", Mutated(new ImageBuilder { Snapshot = true }, (_, i) => Put32(i, Field.SnapshotCount, 65537)), fmt, "nb_snapshots 65537", "exceeds 65536");
        yield return Open("snapshot extra data 1025 bytes", Mutated(new ImageBuilder { Snapshot = true }, (b, i) => Put32(i, b.SnapshotTableOffset + 36, 1025)), fmt, "snapshot 0 extra_data_size 1025", "exceeds 1024");

        // --- L1 entries (spec §4.1): only the range they map fails ---
        // A 1 GiB image has two L1 entries; entry 1 is broken, so entry 0's range (guest cluster 0, the builder's data
        // pattern, written before the corruption) must read as QEMU reads it.
        var twoL1 = new ImageBuilder { Size = 1L << 30 };
        yield return L1Range("L1 entry unaligned", Mutated(twoL1, (b, i) => Put64(i, b.L1Offset + 8, (ulong)b.L2Offset + 0x200 | Copied)), "L1 entry 1", "unaligned");
        yield return L1Range("L1 entry with reserved bits", Mutated(twoL1, (b, i) => Put64(i, b.L1Offset + 8, 0x10000000 | Copied | (1UL << 56))), "L1 entry 1", "reserved bits");
        yield return L1Range("L1 entry beyond the end of the file", Mutated(twoL1, (b, i) => Put64(i, b.L1Offset + 8, 0x10000000 | Copied)), "L2 table at 0x10000000", "beyond the end of the file");
        yield return L1Range("L1 entry pointing at the L1 table", Mutated(twoL1, (b, i) => Put64(i, b.L1Offset + 8, (ulong)b.L1Offset | Copied)), "L2 table at 0x30000", "overlaps other metadata");
        yield return L1Range("L1 entry pointing at the refcount block", Mutated(twoL1, (b, i) => Put64(i, b.L1Offset + 8, (ulong)b.RefcountBlockOffset | Copied)), "L2 table at 0x20000", "overlaps other metadata");
        var small = new ImageBuilder { ClusterBits = 9 };
        yield return Range("two L1 entries sharing one L2 table", Mutated(small, (b, i) => Put64(i, b.L1Offset + 8, Get64(i, b.L1Offset))), "L1 entry 1", "overlaps other metadata") with
        {
            ClusterSize = 512,
            GuestCluster = 64,
            NoHealthyRangeBecause = "both L1 entries name one L2 table and neither can be told to be the true owner, so the mapper refuses the ranges of both (QEMU reads both)",
        };

        // --- L2 entries (spec §4.2, §7) ---
        // The broken entry is guest cluster 3's (unallocated in the sound image); cluster 0 holds the data pattern.
        var plain = new ImageBuilder();
        yield return L2Range("L2 entry beyond the end of the file", Mutated(plain, (b, i) => b.PutL2(i, 3, 0x10000000 | Copied, 0)), "data cluster at 0x10000000", "beyond the end of the file");
        yield return L2Range("L2 entry unaligned", Mutated(plain, (b, i) => b.PutL2(i, 3, (ulong)b.DataOffset + 0x200 | Copied, 0)), "data cluster offset 0x50200", "not cluster-aligned");
        yield return L2Range("L2 entry pointing into the L1 table", Mutated(plain, (b, i) => b.PutL2(i, 3, (ulong)b.L1Offset | Copied, 0)), "data cluster at 0x30000", "overlaps metadata");
        yield return L2Range("L2 entry pointing at its own L2 table", Mutated(plain, (b, i) => b.PutL2(i, 3, (ulong)b.L2Offset | Copied, 0)), "data cluster at 0x40000", "overlaps metadata");
        yield return L2Range("L2 entry pointing at the refcount table", Mutated(plain, (b, i) => b.PutL2(i, 3, (ulong)b.RefcountTableOffset | Copied, 0)), "data cluster at 0x10000", "overlaps metadata");
        yield return L2Range("L2 entry with reserved bit 1", Mutated(plain, (b, i) => b.PutL2(i, 3, (ulong)b.DataOffset | Copied | 2, 0)), "reserved bits");
        yield return L2Range("L2 entry with reserved bit 56", Mutated(plain, (b, i) => b.PutL2(i, 3, (ulong)b.DataOffset | Copied | (1UL << 56), 0)), "reserved bits");
        var ext = new ImageBuilder { ExtendedL2 = true };
        yield return L2Range("extended L2: subcluster allocated and zero", Mutated(ext, (b, i) => b.PutL2(i, 3, (ulong)b.DataOffset | Copied, 0x0000_0001_FFFF_FFFF)), "both allocated and zero");
        yield return Range("extended L2: allocation bits on an unallocated cluster", Mutated(ext, (b, i) => b.PutL2(i, 3, 0, 0x0000_0000_0000_0100)), "allocated without a host cluster") with { GuestCluster = 3, HealthyOffset = 0 };
        var v2 = new ImageBuilder { Version = 2 };
        yield return Range("zero flag in a version 2 image", Mutated(v2, (b, i) => b.PutL2(i, 2, 1, 0)), "zero cluster entry", "version 2") with { GuestCluster = 2, HealthyOffset = 0 };

        // --- Compressed clusters (spec §8) ---
        var deflate = new ImageBuilder { Compressed = true };
        yield return Range("compressed descriptor beyond the end of the file", Mutated(deflate, (b, i) => b.PutL2(i, 1, CompressedFlag | 0x1000000, 0)), "compressed cluster", "0x1000000", "outside the file's data area") with { GuestCluster = 1, HealthyOffset = 0 };
        yield return Range("compressed descriptor pointing into the header", Mutated(deflate, (b, i) => b.PutL2(i, 1, CompressedFlag | 0x100, 0)), "compressed cluster", "0x100", "outside the file's data area") with { GuestCluster = 1, HealthyOffset = 0 };
        yield return Range("compressed descriptor in the header, discarded", Mutated(deflate, (b, i) => b.PutL2(i, 1, CompressedFlag | 0x100, 0)), "compressed cluster", "0x100") with { GuestCluster = 1, HealthyOffset = 0, Change = Hostile.Change.Discard };
        yield return Range("compressed descriptor in the header, zeroed with unmap", Mutated(deflate, (b, i) => b.PutL2(i, 1, CompressedFlag | 0x100, 0)), "compressed cluster", "0x100") with { GuestCluster = 1, HealthyOffset = 0, Change = Hostile.Change.ZeroUnmapAndFlush };
        yield return Range("compressed descriptor over the refcount block", Mutated(deflate, (b, i) => b.PutL2(i, 1, CompressedFlag | ((ulong)b.RefcountBlockOffset + 0x10), 0)), "compressed cluster", "0x20010", "overlaps metadata") with { GuestCluster = 1, HealthyOffset = 0, Change = Hostile.Change.Discard };
        yield return Range("garbage deflate data", Mutated(deflate, (b, i) => i.AsSpan((int)b.CompressedOffset, b.CompressedLength).Fill(0xFF)), "compressed cluster at 0x60000") with { GuestCluster = 1, HealthyOffset = 0 };
        yield return Range("deflate data that ends early", Mutated(deflate, (b, i) => i.AsSpan((int)b.CompressedOffset, b.CompressedLength).Clear()), "compressed cluster at 0x60000") with { GuestCluster = 1, HealthyOffset = 0 };
        var zstd = new ImageBuilder { Compressed = true, CompressionType = 1 };
        yield return Range("garbage zstd data", Mutated(zstd, (b, i) => i.AsSpan((int)b.CompressedOffset, b.CompressedLength).Fill(0x5A)), "compressed cluster at 0x60000", "cannot be decompressed") with { GuestCluster = 1, HealthyOffset = 0 };
        yield return Range("zstd frame asking for a 128 MiB window", Mutated(zstd, (b, i) => HugeWindowFrame().CopyTo(i, b.CompressedOffset)), "compressed cluster at 0x60000", "cannot be decompressed") with { GuestCluster = 1, HealthyOffset = 0 };
        var extCompressed = new ImageBuilder { ExtendedL2 = true, Compressed = true };
        yield return Range("extended L2: compressed cluster with a bitmap", Mutated(extCompressed, (b, i) => Put64(i, b.L2EntryOffset(1) + 8, 1)), "non-zero subcluster bitmap") with { GuestCluster = 1, HealthyOffset = 0 };

        // --- Refcount table and blocks (spec §5, §6): reads work, allocation fails ---
        yield return Refcounts("refcount table entry unaligned", Mutated(plain, (b, i) => Put64(i, b.RefcountTableOffset, (ulong)b.RefcountBlockOffset + 0x200)), "refcount table entry 0", "not cluster-aligned");
        yield return Refcounts("refcount table entry beyond the end of the file", Mutated(plain, (b, i) => Put64(i, b.RefcountTableOffset, 0x10000000)), "refcount table entry 0", "beyond the end of the file");
        yield return Refcounts("refcount table entry with bit 63 set", Mutated(plain, (b, i) => Put64(i, b.RefcountTableOffset, (ulong)b.RefcountBlockOffset | (1UL << 63))), "refcount table entry 0", "beyond the end of the file");
        yield return Refcounts("refcount table entry with reserved bits", Mutated(plain, (b, i) => Put64(i, b.RefcountTableOffset, (ulong)b.RefcountBlockOffset | 1)), "refcount table entry 0", "reserved bits");
        yield return Refcounts("refcount block overlapping the L1 table", Mutated(plain, (b, i) => Put64(i, b.RefcountTableOffset, (ulong)b.L1Offset)), "refcount table entry 0", "overlaps the L1 table");
        yield return Refcounts("refcount table: every entry names one full block", Mutated(new ImageBuilder { RefcountOrder = 6 }, (b, i) =>
        {
            i.AsSpan((int)b.RefcountBlockOffset, 65536).Fill(0xFF);
            for (int e = 0; e < 8192; e++)
            {
                Put64(i, b.RefcountTableOffset + (e * 8), (ulong)b.RefcountBlockOffset);
            }
        }), "refcount table entry 1", "named by two") with { GuestCluster = 3 };
        yield return Refcounts("refcounts claim 16M clusters past the end of the file", Mutated(new ImageBuilder { ClusterBits = 21, RefcountOrder = 0 }, (b, i) => i.AsSpan((int)b.RefcountBlockOffset, 1 << 21).Fill(0xFF)), "past the end of the file") with { ClusterSize = 1 << 21, GuestCluster = 3 };
        yield return Refcounts("refcount of a data cluster is 0 and gets freed", Mutated(plain, (b, i) => b.SetRefcount(i.AsSpan((int)b.RefcountBlockOffset), (int)(b.DataOffset >> 16), 0)), "would drop below zero") with { GuestCluster = 0, Change = Hostile.Change.ZeroUnmapAndFlush, HealthyOffset = -1 }; // cluster 0 holds the only data, and the change zeroes it
    }

    private static HostileCase Open(string name, Func<string, string> make, Type error, params string[] message) =>
        new(name, make, Expect.OpenFails, error, message);

    private static HostileCase ReadWriteOpen(string name, Func<string, string> make, Type error, params string[] message) =>
        new(name, make, Expect.ReadWriteOpenFails, error, message) { ExpectedGuest = new ImageBuilder().ExpectedGuest };

    private static HostileCase Range(string name, Func<string, string> make, params string[] message) =>
        new(name, make, Expect.RangeFails, typeof(ImageCorruptException), message);

    /// <summary>L1 entry 1 of a two-entry image broken; entry 0's range (guest cluster 0) is healthy.</summary>
    private static HostileCase L1Range(string name, Func<string, string> make, params string[] message) =>
        Range(name, make, message) with { GuestCluster = 8192, HealthyOffset = 0 };

    /// <summary>Guest cluster 3's L2 entry broken; guest cluster 0 (the data pattern) is healthy.</summary>
    private static HostileCase L2Range(string name, Func<string, string> make, params string[] message) =>
        Range(name, make, message) with { GuestCluster = 3, HealthyOffset = 0 };

    private static HostileCase Refcounts(string name, Func<string, string> make, params string[] message) =>
        new(name, make, Expect.ChangeFails, typeof(ImageCorruptException), message) { GuestCluster = 3, HealthyOffset = 0 };

    private static Func<string, string> Image(ImageBuilder builder) => Mutated(builder, (_, _) => { });

    private static Func<string, string> Mutated(ImageBuilder builder, Action<ImageBuilder, byte[]> mutate) => dir =>
    {
        var image = builder.Build();
        mutate(builder, image);
        string path = Path.Combine(dir, ImageName);
        File.WriteAllBytes(path, image);
        return path;
    };

    private static Func<string, string> Truncated(ImageBuilder builder, int length) => dir =>
    {
        string path = Path.Combine(dir, ImageName);
        File.WriteAllBytes(path, builder.Build().AsSpan(0, length).ToArray());
        return path;
    };

    private static Func<string, string> WithFiles(Func<string, string> make, params (string Name, ImageBuilder Builder)[] files) => dir =>
    {
        foreach (var (name, builder) in files)
        {
            File.WriteAllBytes(Path.Combine(dir, name), builder.Build());
        }

        return make(dir);
    };

    private static Func<string, string> WithFifo(Func<string, string> make, string name) => dir =>
    {
        ProcessRunner.Run("mkfifo", [Path.Combine(dir, name)]);
        return make(dir);
    };

    /// <summary>image.qcow2 → l1.qcow2 → … → l<paramref name="depth"/>-1.qcow2 (small 512-byte-cluster images).</summary>
    private static Func<string, string> Chain(int depth) => dir =>
    {
        for (int level = depth - 1; level >= 1; level--)
        {
            string? below = level == depth - 1 ? null : $"l{level + 1}.qcow2";
            var b = new ImageBuilder { ClusterBits = 9, BackingFile = below, BackingFormat = below is null ? null : "qcow2" };
            File.WriteAllBytes(Path.Combine(dir, $"l{level}.qcow2"), b.Build());
        }

        string path = Path.Combine(dir, ImageName);
        File.WriteAllBytes(path, new ImageBuilder { ClusterBits = 9, BackingFile = "l1.qcow2", BackingFormat = "qcow2" }.Build());
        return path;
    };

    /// <summary>A zstd frame header with window descriptor 0x88 (2^27 bytes, libzstd's default maximum), no content size, then an empty raw block.</summary>
    private static byte[] HugeWindowFrame() => [0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x88, 0x01, 0x00, 0x00];
}
