using System.Globalization;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Crash;

/// <summary>
/// The workloads of <see cref="CrashReplayTests"/>: each one drives the engine through the paths whose write order
/// matters (copy-on-write of tables shared with a snapshot, refcount structure growth, cache eviction, resize,
/// discard, compressed clusters, lazy refcounts, a raw external data file). Small images, so every flush point can be
/// replayed; all choices come from the session's seeded random.
/// </summary>
internal static class CrashWorkloads
{
    private const long KiB = 1024, MiB = 1024 * 1024;

    private static readonly ImageOpenOptions Plain = new() { Lock = false, CacheCleanIntervalSeconds = 0 };

    public static IReadOnlyList<CrashWorkload> All { get; } =
    [
        new("snapshot copy-on-write", (image, _) => Qemu(image, "cluster_size=4096", 8 * MiB, "s1", "write -P 0x11 0 5M"), SnapshotCopyOnWrite, Plain, Snapshot: "s1"),
        // A 1-bit refcount table of one 512-byte cluster covers 128 MiB of file: far more than a replay can rewrite per
        // state, so at 1 bit the growth tested is a new refcount block; at 16 and 64 bits the table itself moves.
        new("refcount_bits=1 new refcount block", (image, _) => Qemu(image, "cluster_size=512,refcount_bits=1", 4 * MiB, null, "write -P 0x21 0 1900k"), s => RefcountGrowth(s, 1900 * KiB, 4 * MiB), Plain, Exercised: (before, after) => RefcountBlocks(after) > RefcountBlocks(before)),
        new("refcount_bits=16 refcount table growth", (image, _) => Qemu(image, "cluster_size=512,refcount_bits=16", 10 * MiB, null, "write -P 0x22 0 7800k"), s => RefcountGrowth(s, 7800 * KiB, 10 * MiB), Plain, Exercised: TableMoved),
        new("refcount_bits=64 refcount table growth", (image, _) => Qemu(image, "cluster_size=512,refcount_bits=64", 4 * MiB, null, "write -P 0x23 0 1850k"), s => RefcountGrowth(s, 1850 * KiB, 4 * MiB), Plain, Exercised: TableMoved),
        new("extended L2, tiny caches, snapshot", (image, _) => Qemu(image, "extended_l2=on,cluster_size=16384", 48 * MiB, "s1", "write -P 0x31 0 1M", "write -P 0x32 17M 1M", "write -P 0x33 40M 512k"), ExtendedTinyCache, Plain with { CacheSize = 2 * 4096, L2CacheEntrySize = 4096 }, Snapshot: "s1"),
        new("resize grow and shrink", (image, _) => Qemu(image, "cluster_size=4096", 16 * MiB, "s1", "write -P 0x41 0 5M", "write -P 0x42 6M 512k"), ResizeGrowShrink, Plain, Snapshot: "s1"),
        new("discard and zero writes", (image, _) => Qemu(image, "cluster_size=65536", 16 * MiB, null, "write -P 0x51 0 12M"), DiscardAndZero, Plain),
        new("compressed overwrite", CompressedImage, CompressedOverwrite, Plain),
        new("lazy refcounts", (image, _) => Qemu(image, "lazy_refcounts=on,cluster_size=65536", 16 * MiB, null, "write -P 0x61 0 6M"), LazyRefcounts, Plain),
        new("data_file_raw", DataFileRawImage, DataFileRaw, Plain, DataFile: true),
    ];

    /// <summary>Writes over L2 tables and data clusters shared with a snapshot, and discards of unallocated clusters in a shared table.</summary>
    private static void SnapshotCopyOnWrite(CrashSession s)
    {
        var disk = s.Open();
        // An unallocated cluster in a shared L2 table: the table is copied for a discard that changes no entry.
        s.Discard(disk, (5 * MiB) + (64 * KiB), 4 * KiB);
        s.Flush(disk);
        s.Mix(
            disk,
            steps: 36,
            flushEvery: 3,
            (6, () => s.RandomWrite(disk, 31)),
            (2, () => s.RandomDiscard(disk, 4 * (int)KiB, 4)),
            (2, () => s.RandomDiscard(disk, 4 * (int)KiB, 1, 5 * MiB, 8 * MiB)));
        s.Close(disk);
    }

    /// <summary>Sequential writes from <paramref name="start"/> that make the file cross into a new refcount block (and table).</summary>
    private static void RefcountGrowth(CrashSession s, long start, long end)
    {
        var disk = s.Open();
        long pos = start;
        for (int i = 0; i < 24 && pos < end; i++)
        {
            int length = s.Random.Next(2, 17) * 2 * (int)KiB;
            length = (int)Math.Min(length, end - pos);
            s.Write(disk, pos, s.Data(length));
            pos += length;
            if (s.Random.Next(4) == 0)
            {
                int back = s.Random.Next(1, 9) * 512;
                s.Write(disk, s.Offset(0, pos, back, 512), s.Data(back));
            }

            if (s.Random.Next(5) == 0)
            {
                s.Discard(disk, s.Offset(0, pos, 2 * KiB, 512), 2 * KiB);
            }

            if (i % 2 == 1)
            {
                s.Flush(disk);
            }
        }

        s.Close(disk);
    }

    /// <summary>Subcluster writes, zero writes, discards and reads spread over three L2 tables through a two-slice L2 cache.</summary>
    private static void ExtendedTinyCache(CrashSession s)
    {
        var disk = s.Open();
        var sector = new byte[512];
        s.Mix(
            disk,
            steps: 40,
            flushEvery: 4,
            (6, () => s.RandomWrite(disk, 16)),
            (2, () => s.RandomZero(disk, 16)),
            (1, () => s.RandomDiscard(disk, 16 * (int)KiB, 4)),
            (3, () => disk.Read(s.Offset(0, disk.Length, 512, 512), sector)), // evicts dirty slices of other tables
            (1, () =>
            {
                // A discard alone, its slice evicted before the flush: nothing else dirty when the refcount drops.
                s.Flush(disk);
                s.RandomDiscard(disk, 16 * (int)KiB, 1);
                disk.Read(s.Offset(0, disk.Length, 512, 512), sector);
                disk.Read(s.Offset(0, disk.Length, 512, 512), sector);
                s.Flush(disk);
            }));
        s.Close(disk);
    }

    /// <summary>
    /// Shrink over the unallocated tail of an L2 table shared with a snapshot, shrink to a partial cluster, grow past
    /// the L1 table, shrink again (L2 tables shared with the snapshot unhooked).
    /// </summary>
    private static void ResizeGrowShrink(CrashSession s)
    {
        s.Resize(7 * MiB);
        var disk = s.Open();
        s.Write(disk, (5 * MiB) + 1000, s.Data(3000));
        s.Write(disk, (5 * MiB) + (40 * KiB), s.Data(2048));
        s.Close(disk);
        s.Resize((5 * MiB) + 1536);
        disk = s.Open();
        s.Write(disk, 4 * MiB, s.Data(8192));
        s.Close(disk);
        s.Resize(20 * MiB);
        disk = s.Open();
        s.Write(disk, 18 * MiB, s.Data(6000));
        s.Write(disk, (5 * MiB) + 512, s.Data(4096));
        s.Close(disk);
        s.Resize(3 * MiB);
        disk = s.Open();
        s.Write(disk, MiB, s.Data(5000));
        s.Close(disk);
        s.Resize(6 * MiB);
    }

    /// <summary>Discards (aligned and not), zero writes with and without unmap, and writes that reuse freed clusters.</summary>
    private static void DiscardAndZero(CrashSession s)
    {
        var disk = s.Open();
        s.Mix(
            disk,
            steps: 36,
            flushEvery: 3,
            (4, () => s.RandomDiscard(disk, 512, 511)),
            (2, () => s.RandomZero(disk, 511)),
            (4, () => s.RandomWrite(disk, 128)));
        s.Close(disk);
    }

    /// <summary>Partial overwrites, discards and zero writes over compressed clusters that share host clusters; new compressed writes.</summary>
    private static void CompressedOverwrite(CrashSession s)
    {
        var disk = s.Open();
        s.Mix(
            disk,
            steps: 30,
            flushEvery: 3,
            (5, () => s.RandomWrite(disk, 64)),
            (2, () => s.RandomDiscard(disk, 64 * (int)KiB, 2)),
            (1, () => s.RandomZero(disk, 128)),
            // Onto clusters a discard left without a host cluster (others are written normally).
            (2, () => s.WriteCompressed(disk, s.Offset(0, disk.Length, 64 * KiB, 64 * KiB), s.Data(64 * (int)KiB, compressible: true))));
        s.Close(disk);
    }

    /// <summary>Writes and discards with the dirty bit set, a clean close, and a second session.</summary>
    private static void LazyRefcounts(CrashSession s)
    {
        for (int session = 0; session < 2; session++)
        {
            var disk = s.Open();
            s.Mix(
                disk,
                steps: 15,
                flushEvery: 3,
                (1, () => s.RandomDiscard(disk, 64 * (int)KiB, 2)),
                (3, () => s.RandomWrite(disk, 128)));
            s.Close(disk);
        }
    }

    /// <summary>Writes, zero writes and discards on an image whose raw data file must stay a copy of the disk.</summary>
    private static void DataFileRaw(CrashSession s)
    {
        var disk = s.Open();
        s.Mix(
            disk,
            steps: 30,
            flushEvery: 3,
            (5, () => s.RandomWrite(disk, 128)),
            (2, () => s.RandomZero(disk, 256)),
            (3, () => s.RandomDiscard(disk, 512, 256)));
        s.Close(disk);
    }

    private static bool TableMoved(byte[] before, byte[] after) => Header(after).RefcountTableOffset != Header(before).RefcountTableOffset;

    /// <summary>Refcount blocks the refcount table names.</summary>
    private static int RefcountBlocks(byte[] image)
    {
        var header = Header(image);
        var table = image.AsSpan((int)header.RefcountTableOffset, (int)header.RefcountTableClusters * header.ClusterSize);
        int blocks = 0;
        for (int i = 0; i < table.Length; i += 8)
        {
            blocks += System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(table[i..]) != 0 ? 1 : 0;
        }

        return blocks;
    }

    private static Qcow2Header Header(byte[] image) => Qcow2Header.Parse(image.AsSpan(0, 1 << Qcow2Header.PeekClusterBits(image, "image")), "image");

    private static void Qemu(string image, string options, long size, string? snapshot, params string[] prefill)
    {
        QemuTools.QemuImg("create", "-q", "-f", "qcow2", "-o", options, image, size.ToString(CultureInfo.InvariantCulture));
        if (prefill.Length > 0)
        {
            QemuTools.QemuIo(image, prefill);
        }

        if (snapshot is not null)
        {
            QemuTools.CreateSnapshot(image, snapshot);
        }
    }

    /// <summary>qemu-img convert -c of 4 MiB of compressible data (64 KiB clusters), with a few holes.</summary>
    private static void CompressedImage(string image, string? dataFile)
    {
        string raw = image + ".src.raw";
        var random = new Random(4242);
        var bytes = new byte[4 * MiB];
        for (int i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)"ACGT"[random.Next(4)];
        }

        bytes.AsSpan((int)MiB, (int)(256 * KiB)).Clear();
        File.WriteAllBytes(raw, bytes);
        QemuTools.ConvertToQcow2(raw, image, "raw", compress: true);
        File.Delete(raw);
    }

    /// <summary>An 8 MiB image with a raw external data file (extended L2), half written by qemu-io.</summary>
    private static void DataFileRawImage(string image, string? dataFile)
    {
        QemuTools.Create(image, 8 * MiB, new Dictionary<string, string> { ["data_file"] = dataFile!, ["data_file_raw"] = "on", ["extended_l2"] = "on" });
        QemuTools.QemuIo(image, "write -P 0x71 0 4M", "write -P 0x72 6M 1M");
    }
}
