using System.Buffers.Binary;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2.Bitmaps;

/// <summary>
/// Reading, validating and writing the bitmap directory (spec "Bitmaps extension", "Bitmap directory") with QEMU's
/// limits, on every open where the extension is consistent (hostile input rule: a bad directory fails the open with
/// one line, as QEMU's "doesn't satisfy the constraints" does): count and size within limits, directory
/// cluster-aligned and inside the file, entries exactly filling it, known flags and type, granularity 512 B–2 GiB,
/// names 1–1023 bytes and unique, each bitmap table cluster-aligned, inside the file and as long as the disk needs.
/// </summary>
internal static class BitmapDirectory
{
    /// <summary>QEMU's limit on nb_bitmaps (QCOW2_MAX_BITMAPS).</summary>
    public const int MaxBitmaps = 65535;

    /// <summary>QEMU's limit on a bitmap name (BME_MAX_NAME_SIZE).</summary>
    public const int MaxNameBytes = 1023;

    /// <summary>QEMU's limit on the directory (QCOW2_MAX_BITMAP_DIRECTORY_SIZE): 1 KiB per bitmap.</summary>
    public const long MaxDirectoryBytes = 1024L * MaxBitmaps;

    /// <summary>The validated entries, in directory order; empty when the image has no consistent bitmaps extension.</summary>
    public static List<BitmapDirectoryEntry> Read(IBlockDevice file, Qcow2Header header)
    {
        var list = new List<BitmapDirectoryEntry>();
        if (BitmapsExtension.Find(header) is not { } ext)
        {
            return list;
        }

        string name = file.Name;
        var geo = header.Geometry;
        if (ext.Count == 0 || ext.Count > MaxBitmaps)
        {
            throw new ImageFormatException($"{name}: bitmaps extension: nb_bitmaps {ext.Count} is invalid (1 to {MaxBitmaps})");
        }

        if (ext.DirectorySize < BitmapDirectoryEntry.FixedLength || ext.DirectorySize > MaxDirectoryBytes)
        {
            throw new ImageFormatException($"{name}: bitmaps extension: bitmap_directory_size {ext.DirectorySize} is invalid (at most {MaxDirectoryBytes})");
        }

        if (!geo.IsClusterAligned(new HostOffset(ext.DirectoryOffset)) || ext.DirectoryOffset == 0)
        {
            throw new ImageFormatException($"{name}: bitmaps extension: bitmap_directory_offset 0x{ext.DirectoryOffset:x} is not a cluster-aligned offset");
        }

        long fileLength = file.Length;
        if (ext.DirectoryOffset > fileLength || ext.DirectorySize > fileLength - ext.DirectoryOffset)
        {
            throw new ImageFormatException($"{name}: bitmap directory at 0x{ext.DirectoryOffset:x} (+{ext.DirectorySize} bytes) lies beyond the end of the file ({fileLength} bytes)");
        }

        var dir = new byte[ext.DirectorySize];
        file.Read(ext.DirectoryOffset, dir);
        var names = new HashSet<string>(StringComparer.Ordinal);
        int pos = 0;
        for (uint i = 0; i < ext.Count; i++)
        {
            if (dir.Length - pos < BitmapDirectoryEntry.FixedLength)
            {
                throw new ImageFormatException($"{name}: bitmap directory is too short for {ext.Count} entries (entry {i} at byte {pos} of {dir.Length})");
            }

            var raw = dir.AsSpan(pos);
            int nameSize = BinaryPrimitives.ReadUInt16BigEndian(raw[18..]);
            uint extraSize = BinaryPrimitives.ReadUInt32BigEndian(raw[20..]);
            long length = (BitmapDirectoryEntry.FixedLength + (long)extraSize + nameSize + 7) & ~7L;
            if (length > dir.Length - pos)
            {
                throw new ImageFormatException($"{name}: bitmap directory entry {i} ({length} bytes) runs past the end of the directory");
            }

            var entry = new BitmapDirectoryEntry
            {
                TableOffset = (long)Math.Min(BinaryPrimitives.ReadUInt64BigEndian(raw), long.MaxValue),
                TableSize = BinaryPrimitives.ReadUInt32BigEndian(raw[8..]),
                Flags = BinaryPrimitives.ReadUInt32BigEndian(raw[12..]),
                Type = raw[16],
                GranularityBits = raw[17],
                ExtraData = raw.Slice(BitmapDirectoryEntry.FixedLength, (int)extraSize).ToArray(),
                NameBytes = raw.Slice(BitmapDirectoryEntry.FixedLength + (int)extraSize, nameSize).ToArray(),
            };
            Validate(entry, i, header, fileLength, name);
            if (!names.Add(entry.Name))
            {
                throw new ImageFormatException($"{name}: bitmap directory: the name '{entry.Name}' is used twice");
            }

            list.Add(entry);
            pos += (int)length;
        }

        if (pos != dir.Length)
        {
            throw new ImageFormatException($"{name}: bitmap directory is {dir.Length} bytes but its {ext.Count} entries take {pos}");
        }

        return list;
    }

    /// <summary>The directory bytes for <paramref name="entries"/>.</summary>
    public static byte[] Serialize(IReadOnlyList<BitmapDirectoryEntry> entries)
    {
        var dir = new byte[entries.Sum(e => (long)e.EncodedLength)];
        int pos = 0;
        foreach (var e in entries)
        {
            e.Serialize(dir.AsSpan(pos));
            pos += e.EncodedLength;
        }

        return dir;
    }

    /// <summary>A bitmap's table entry: reserved bits 0, a data offset cluster-aligned and inside the file, bit 0 only without one.</summary>
    public static void ValidateTableEntry(ulong raw, long index, BitmapDirectoryEntry entry, Qcow2Header header, long fileLength, string name)
    {
        var e = new BitmapTableEntry(raw);
        long data = e.Data.Value;
        bool reserved = (raw & ~(BitmapTableEntry.OffsetMask | 1UL)) != 0 || (data != 0 && (raw & 1) != 0);
        if (reserved || !header.Geometry.IsClusterAligned(e.Data) || data > fileLength - header.ClusterSize)
        {
            throw new ImageFormatException($"{name}: bitmap '{entry.Name}' table entry {index} (0x{raw:x16}) is invalid");
        }
    }

    private static void Validate(BitmapDirectoryEntry e, uint index, Qcow2Header header, long fileLength, string file)
    {
        string prefix = $"{file}: bitmap '{e.Name}' doesn't satisfy the constraints";
        if (e.NameBytes.Length == 0 || e.NameBytes.Length > MaxNameBytes)
        {
            throw new ImageFormatException($"{file}: bitmap directory entry {index}: name_size {e.NameBytes.Length} is invalid (1 to {MaxNameBytes})");
        }

        if ((e.Flags & ~BitmapDirectoryEntry.KnownFlags) != 0)
        {
            throw new ImageFormatException($"{prefix}: reserved flags 0x{e.Flags & ~BitmapDirectoryEntry.KnownFlags:x} are set");
        }

        if (e.Type != BitmapDirectoryEntry.TypeDirtyTracking)
        {
            throw new ImageFormatException($"{prefix}: type {e.Type} is not 1 (dirty tracking)");
        }

        if (e.GranularityBits is < BitmapGeometry.MinGranularityBits or > BitmapGeometry.MaxGranularityBits)
        {
            throw new ImageFormatException($"{prefix}: granularity_bits {e.GranularityBits} is outside {BitmapGeometry.MinGranularityBits}–{BitmapGeometry.MaxGranularityBits}");
        }

        var geo = new BitmapGeometry(header.Size, e.GranularityBits, header.ClusterSize);
        if (geo.ByteCount > BitmapGeometry.MaxBitmapBytes)
        {
            throw new ImageFormatException($"{prefix}: the bitmap would take {geo.ByteCount} bytes (at most {BitmapGeometry.MaxBitmapBytes})");
        }

        if (e.TableSize != geo.TableSize)
        {
            throw new ImageFormatException($"{prefix}: bitmap_table_size {e.TableSize} does not match the disk ({geo.TableSize} entries)");
        }

        long tableBytes = (long)e.TableSize * 8;
        if ((e.TableSize > 0 && e.TableOffset == 0) || !header.Geometry.IsClusterAligned(new HostOffset(e.TableOffset))
            || e.TableOffset > fileLength || tableBytes > fileLength - e.TableOffset)
        {
            throw new ImageFormatException($"{prefix}: bitmap_table_offset 0x{e.TableOffset:x} is not a cluster-aligned offset inside the file");
        }
    }
}
