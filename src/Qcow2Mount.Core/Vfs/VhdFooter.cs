using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Qcow2Mount.Core.Vfs;

/// <summary>
/// The 512-byte footer of a fixed VHD (Microsoft's Virtual Hard Disk Image Format Specification, "Hard Disk Footer
/// Format"; all fields big-endian): a fixed VHD is the disk's sectors followed by this footer. Built once per image,
/// deterministic: the time stamp is 0 (the spec's epoch, 2000-01-01) and the unique id is derived from the image's
/// full path, so every mount of one image shows the same footer and tools that remember disks by id recognise it.
/// </summary>
public static class VhdFooter
{
    public const int Size = 512;

    /// <summary>Sector size the VHD format counts in; the disk part must be a whole number of them.</summary>
    public const int SectorSize = 512;

    /// <summary>Disk type "fixed hard disk".</summary>
    public const uint FixedDiskType = 2;

    private const string Cookie = "conectix";
    private const uint FeaturesReserved = 0x00000002;     // "must always be set"
    private const uint FileFormatVersion = 0x00010000;
    private const ulong FixedDataOffset = ulong.MaxValue; // no dynamic header
    private const string CreatorApplication = "q2mt";
    private const uint CreatorVersion = 0x00010000;
    private const uint CreatorHostWindows = 0x5769326B;   // "Wi2k"

    /// <summary>The footer for a disk of <paramref name="diskSize"/> bytes (a multiple of 512) shown from <paramref name="imagePath"/>.</summary>
    public static byte[] Build(long diskSize, string imagePath)
    {
        if (diskSize < 0 || diskSize % SectorSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(diskSize), diskSize, "a fixed VHD holds whole 512-byte sectors");
        }

        var footer = new byte[Size];
        var f = footer.AsSpan();
        Encoding.ASCII.GetBytes(Cookie, f[0..8]);
        BinaryPrimitives.WriteUInt32BigEndian(f[8..], FeaturesReserved);
        BinaryPrimitives.WriteUInt32BigEndian(f[12..], FileFormatVersion);
        BinaryPrimitives.WriteUInt64BigEndian(f[16..], FixedDataOffset);
        BinaryPrimitives.WriteUInt32BigEndian(f[24..], 0); // time stamp: seconds since 2000-01-01 UTC
        Encoding.ASCII.GetBytes(CreatorApplication, f[28..32]);
        BinaryPrimitives.WriteUInt32BigEndian(f[32..], CreatorVersion);
        BinaryPrimitives.WriteUInt32BigEndian(f[36..], CreatorHostWindows);
        BinaryPrimitives.WriteUInt64BigEndian(f[40..], (ulong)diskSize); // original size
        BinaryPrimitives.WriteUInt64BigEndian(f[48..], (ulong)diskSize); // current size
        var (cylinders, heads, sectors) = Geometry(diskSize / SectorSize);
        BinaryPrimitives.WriteUInt16BigEndian(f[56..], cylinders);
        f[58] = heads;
        f[59] = sectors;
        BinaryPrimitives.WriteUInt32BigEndian(f[60..], FixedDiskType);
        UniqueId(imagePath).CopyTo(f[68..84]);
        f[84] = 0; // saved state
        BinaryPrimitives.WriteUInt32BigEndian(f[64..], Checksum(f));
        return footer;
    }

    /// <summary>The one's complement of the sum of every footer byte, the checksum field (64..67) counted as zero.</summary>
    public static uint Checksum(ReadOnlySpan<byte> footer)
    {
        uint sum = 0;
        for (int i = 0; i < Size; i++)
        {
            if (i is < 64 or > 67)
            {
                sum += footer[i];
            }
        }

        return ~sum;
    }

    /// <summary>
    /// The spec's CHS calculation ("CHS Calculation" in its appendix): capped at 65535 × 16 × 255 sectors; 17, 31 or
    /// 63 sectors per track with at least 4 and at most 16 heads below 65535 × 16 × 63 sectors, 255 × 16 above.
    /// </summary>
    public static (ushort Cylinders, byte Heads, byte SectorsPerTrack) Geometry(long totalSectors)
    {
        totalSectors = Math.Min(totalSectors, 65535L * 16 * 255);
        long sectorsPerTrack, heads, cylinderTimesHeads;
        if (totalSectors >= 65535L * 16 * 63)
        {
            sectorsPerTrack = 255;
            heads = 16;
            cylinderTimesHeads = totalSectors / sectorsPerTrack;
        }
        else
        {
            sectorsPerTrack = 17;
            cylinderTimesHeads = totalSectors / sectorsPerTrack;
            heads = Math.Max((cylinderTimesHeads + 1023) / 1024, 4);
            if (cylinderTimesHeads >= heads * 1024 || heads > 16)
            {
                sectorsPerTrack = 31;
                heads = 16;
                cylinderTimesHeads = totalSectors / sectorsPerTrack;
            }

            if (cylinderTimesHeads >= heads * 1024)
            {
                sectorsPerTrack = 63;
                heads = 16;
                cylinderTimesHeads = totalSectors / sectorsPerTrack;
            }
        }

        return ((ushort)(cylinderTimesHeads / heads), (byte)heads, (byte)sectorsPerTrack);
    }

    /// <summary>16 bytes of SHA-256 over the image's full path: the same image always gets the same id, another image another.</summary>
    private static byte[] UniqueId(string imagePath) =>
        SHA256.HashData(Encoding.UTF8.GetBytes("qcow2mount-vhd:" + Path.GetFullPath(imagePath)))[..16];
}
