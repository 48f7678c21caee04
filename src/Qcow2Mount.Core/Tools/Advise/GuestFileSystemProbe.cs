using System.Buffers.Binary;

namespace Qcow2Mount.Core.Tools.Advise;

/// <summary>
/// Finds the guest's file system block size from the raw disk: a superblock at offset 0, or in the first partition
/// of an MBR or GPT partition table. Recognises ext2/3/4 (magic 0xEF53 at 1024 + 56, block = 1024 &lt;&lt;
/// s_log_block_size), XFS ("XFSB", sb_blocksize), NTFS ("NTFS    " boot sector, bytes per sector × sectors per
/// cluster) and FAT12/16/32 (BPB bytes per sector × sectors per cluster). Every field is range-checked: a hostile
/// disk gives "nothing recognised", never an exception or a read outside the disk.
/// </summary>
internal static class GuestFileSystemProbe
{
    private const int Sector = 512;

    /// <summary>Most GPT entries looked at for the first used one.</summary>
    private const int MaxGptEntries = 128;

    public static GuestFileSystem? Probe(IVirtualDisk disk)
    {
        if (AtOffset(disk, 0, "whole disk") is { } whole)
        {
            return whole;
        }

        var mbr = ReadAt(disk, 0, Sector);
        if (mbr is null || mbr[510] != 0x55 || mbr[511] != 0xAA)
        {
            return null;
        }

        for (int i = 0; i < 4; i++)
        {
            var entry = mbr.AsSpan(446 + (16 * i), 16);
            byte type = entry[4];
            if (type == 0xEE)
            {
                return Gpt(disk);
            }
        }

        for (int i = 0; i < 4; i++)
        {
            var entry = mbr.AsSpan(446 + (16 * i), 16);
            byte type = entry[4];
            uint start = BinaryPrimitives.ReadUInt32LittleEndian(entry[8..]);
            uint sectors = BinaryPrimitives.ReadUInt32LittleEndian(entry[12..]);
            if (type is 0 or 0x05 or 0x0F or 0x85 || start == 0 || sectors == 0)
            {
                continue;
            }

            return AtOffset(disk, (long)start * Sector, $"MBR partition {i + 1}");
        }

        return null;
    }

    private static GuestFileSystem? Gpt(IVirtualDisk disk)
    {
        foreach (int sectorSize in (int[])[512, 4096])
        {
            var header = ReadAt(disk, sectorSize, 92);
            if (header is null || !header.AsSpan(0, 8).SequenceEqual("EFI PART"u8))
            {
                continue;
            }

            long entriesLba = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(72));
            uint count = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(80));
            uint entrySize = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(84));
            if (entriesLba <= 0 || entriesLba > disk.Length / sectorSize || entrySize is < 128 or > 4096 || entrySize % 8 != 0)
            {
                return null;
            }

            for (int i = 0; i < Math.Min(count, MaxGptEntries); i++)
            {
                var entry = ReadAt(disk, (entriesLba * sectorSize) + ((long)i * entrySize), 48);
                if (entry is null)
                {
                    return null;
                }

                if (entry.AsSpan(0, 16).ContainsAnyExcept((byte)0))
                {
                    long first = BinaryPrimitives.ReadInt64LittleEndian(entry.AsSpan(32));
                    return first > 0 && first <= disk.Length / sectorSize
                        ? AtOffset(disk, first * sectorSize, $"GPT partition {i + 1}")
                        : null;
                }
            }

            return null;
        }

        return null;
    }

    /// <summary>The file system whose superblock or boot sector starts at <paramref name="start"/>, if any.</summary>
    private static GuestFileSystem? AtOffset(IVirtualDisk disk, long start, string location)
    {
        var boot = ReadAt(disk, start, 2048);
        if (boot is null)
        {
            return null;
        }

        var s = boot.AsSpan();
        if (s[..4].SequenceEqual("XFSB"u8))
        {
            int block = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(s[4..]), int.MaxValue);
            return IsPowerOfTwo(block, 512, 65536) ? new GuestFileSystem("xfs", block, start, location) : null;
        }

        var ext = s[1024..];
        if (BinaryPrimitives.ReadUInt16LittleEndian(ext[56..]) == 0xEF53)
        {
            uint log = BinaryPrimitives.ReadUInt32LittleEndian(ext[24..]);
            if (log > 6)
            {
                return null;
            }

            uint compat = BinaryPrimitives.ReadUInt32LittleEndian(ext[92..]);
            uint incompat = BinaryPrimitives.ReadUInt32LittleEndian(ext[96..]);
            string type = (incompat & 0x2C0) != 0 ? "ext4" : (compat & 0x4) != 0 ? "ext3" : "ext2";
            return new GuestFileSystem(type, 1024 << (int)log, start, location);
        }

        if (s[510] != 0x55 || s[511] != 0xAA)
        {
            return null;
        }

        int bytesPerSector = BinaryPrimitives.ReadUInt16LittleEndian(s[11..]);
        if (s.Slice(3, 8).SequenceEqual("NTFS    "u8))
        {
            byte raw = s[13];
            long perCluster = raw <= 0x80 ? raw : 1L << Math.Min(256 - raw, 31);
            long cluster = bytesPerSector * perCluster;
            return IsPowerOfTwo(bytesPerSector, 256, 4096) && IsPowerOfTwo(cluster, 256, 2L << 20)
                ? new GuestFileSystem("ntfs", (int)cluster, start, location)
                : null;
        }

        string? fat = s.Slice(82, 5).SequenceEqual("FAT32"u8) ? "fat32"
            : s.Slice(54, 5).SequenceEqual("FAT16"u8) ? "fat16"
            : s.Slice(54, 5).SequenceEqual("FAT12"u8) ? "fat12"
            : null;
        long fatCluster = (long)bytesPerSector * s[13];
        return fat is not null && IsPowerOfTwo(bytesPerSector, 512, 4096) && IsPowerOfTwo(s[13], 1, 128) && IsPowerOfTwo(fatCluster, 512, 2L << 20)
            ? new GuestFileSystem(fat, (int)fatCluster, start, location)
            : null;
    }

    /// <summary><paramref name="length"/> bytes at <paramref name="offset"/>, or null when they do not lie inside the disk.</summary>
    private static byte[]? ReadAt(IVirtualDisk disk, long offset, int length)
    {
        if (offset < 0 || offset > disk.Length - length)
        {
            return null;
        }

        var buffer = new byte[length];
        return disk.Read(offset, buffer) == length ? buffer : null;
    }

    private static bool IsPowerOfTwo(long value, long min, long max) => value >= min && value <= max && (value & (value - 1)) == 0;
}
