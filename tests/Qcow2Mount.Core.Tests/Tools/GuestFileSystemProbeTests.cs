using System.Buffers.Binary;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.Core.Tools.Advise;

namespace Qcow2Mount.Core.Tests.Tools;

/// <summary>
/// GuestFileSystemProbe on boot sectors built from the on-disk layouts (checked against what mkfs.xfs, mkntfs,
/// mkfs.vfat and sfdisk write) and on hostile ones: a bad field means "nothing recognised", never an exception.
/// Real ext4 file systems made by mkfs.ext4 are in ImageAdvisorTests.
/// </summary>
[TestFixture]
[Category(TestCategories.Unit)]
public sealed class GuestFileSystemProbeTests
{
    private const int DiskSize = 8 << 20;

    [Test]
    public void Probe_XfsAtOffsetZero_ReadsSbBlocksize()
    {
        var disk = new byte[DiskSize];
        Xfs(disk, 0, 4096);
        Assert.That(Probe(disk), Is.EqualTo(new GuestFileSystem("xfs", 4096, 0, "whole disk")));
    }

    [Test]
    public void Probe_Ntfs_ClusterIsBytesPerSectorTimesSectorsPerCluster()
    {
        var disk = new byte[DiskSize];
        Boot(disk, 0, "NTFS    ", 512, 16);
        Assert.That(Probe(disk), Is.EqualTo(new GuestFileSystem("ntfs", 8192, 0, "whole disk")));
    }

    [Test]
    public void Probe_NtfsWithLargeClusters_DecodesTheNegativeExponent()
    {
        // Sectors per cluster above 0x80 means 2^(256 - value): 0xF4 = 2^12 sectors = 2 MiB clusters.
        var disk = new byte[DiskSize];
        Boot(disk, 0, "NTFS    ", 512, 0xF4);
        Assert.That(Probe(disk)?.BlockSize, Is.EqualTo(2 << 20));
    }

    [TestCase("fat32", 82, 8, 4096)]
    [TestCase("fat16", 54, 4, 2048)]
    [TestCase("fat12", 54, 1, 512)]
    public void Probe_Fat_ClusterFromTheBpb(string type, int labelAt, int sectorsPerCluster, int expected)
    {
        var disk = new byte[DiskSize];
        Boot(disk, 0, "mkfs.fat", 512, (byte)sectorsPerCluster);
        "FAT"u8.CopyTo(disk.AsSpan(labelAt));
        type.ToUpperInvariant()[3..].Select(c => (byte)c).ToArray().CopyTo(disk, labelAt + 3);
        Assert.That(Probe(disk), Is.EqualTo(new GuestFileSystem(type, expected, 0, "whole disk")));
    }

    [Test]
    public void Probe_GptFirstPartition_FindsTheFileSystemThere()
    {
        var disk = new byte[DiskSize];
        ProtectiveMbr(disk);
        "EFI PART"u8.CopyTo(disk.AsSpan(512));
        BinaryPrimitives.WriteInt64LittleEndian(disk.AsSpan(512 + 72), 2);
        BinaryPrimitives.WriteUInt32LittleEndian(disk.AsSpan(512 + 80), 128);
        BinaryPrimitives.WriteUInt32LittleEndian(disk.AsSpan(512 + 84), 128);
        // Entry 0 unused, entry 1 from LBA 4096 (2 MiB).
        disk[1024 + 128] = 0xAF;
        BinaryPrimitives.WriteInt64LittleEndian(disk.AsSpan(1024 + 128 + 32), 4096);
        Xfs(disk, 4096 * 512, 1024);
        Assert.That(Probe(disk), Is.EqualTo(new GuestFileSystem("xfs", 1024, 2 << 20, "GPT partition 2")));
    }

    [Test]
    public void Probe_MbrSkipsEmptyAndExtendedEntries()
    {
        var disk = new byte[DiskSize];
        Mbr(disk, 0, 0x05, 2048, 1000);
        Mbr(disk, 1, 0x07, 4096, 4096);
        Boot(disk, 4096 * 512, "NTFS    ", 4096, 1);
        Assert.That(Probe(disk), Is.EqualTo(new GuestFileSystem("ntfs", 4096, 4096 * 512, "MBR partition 2")));
    }

    private static readonly TestCaseData[] Hostile =
    [
        new TestCaseData(new Action<byte[]>(d => Ext(d, 0, 40))).SetName("Probe_Ext4WithBlockLog40_Nothing"),
        new TestCaseData(new Action<byte[]>(d => Xfs(d, 0, 3000))).SetName("Probe_XfsWithBlocksize3000_Nothing"),
        new TestCaseData(new Action<byte[]>(d => Xfs(d, 0, uint.MaxValue))).SetName("Probe_XfsWithBlocksize2Pow32_Nothing"),
        new TestCaseData(new Action<byte[]>(d => Boot(d, 0, "NTFS    ", 3, 8))).SetName("Probe_NtfsWith3BytesPerSector_Nothing"),
        new TestCaseData(new Action<byte[]>(d => Boot(d, 0, "NTFS    ", 512, 0x81))).SetName("Probe_NtfsWithHugeClusterExponent_Nothing"),
        new TestCaseData(new Action<byte[]>(d => { Boot(d, 0, "mkfs.fat", 512, 3); "FAT32"u8.CopyTo(d.AsSpan(82)); })).SetName("Probe_FatWith3SectorsPerCluster_Nothing"),
        new TestCaseData(new Action<byte[]>(d => Mbr(d, 0, 0x83, uint.MaxValue, 10))).SetName("Probe_MbrPartitionPastTheDisk_Nothing"),
        new TestCaseData(new Action<byte[]>(d =>
        {
            ProtectiveMbr(d);
            "EFI PART"u8.CopyTo(d.AsSpan(512));
            BinaryPrimitives.WriteInt64LittleEndian(d.AsSpan(512 + 72), long.MaxValue);
            BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(512 + 80), uint.MaxValue);
            BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(512 + 84), 128);
        })).SetName("Probe_GptEntriesPastTheDisk_Nothing"),
        new TestCaseData(new Action<byte[]>(d =>
        {
            ProtectiveMbr(d);
            "EFI PART"u8.CopyTo(d.AsSpan(512));
            BinaryPrimitives.WriteInt64LittleEndian(d.AsSpan(512 + 72), 2);
            BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(512 + 80), uint.MaxValue);
            BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(512 + 84), 1u << 31);
        })).SetName("Probe_GptHugeEntrySize_Nothing"),
        new TestCaseData(new Action<byte[]>(d =>
        {
            ProtectiveMbr(d);
            "EFI PART"u8.CopyTo(d.AsSpan(512));
            BinaryPrimitives.WriteInt64LittleEndian(d.AsSpan(512 + 72), 2);
            BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(512 + 80), 4);
            BinaryPrimitives.WriteUInt32LittleEndian(d.AsSpan(512 + 84), 128);
            d[1024] = 1;
            BinaryPrimitives.WriteInt64LittleEndian(d.AsSpan(1024 + 32), -5);
        })).SetName("Probe_GptPartitionAtNegativeLba_Nothing"),
    ];

    [TestCaseSource(nameof(Hostile))]
    public void Probe_HostileField(Action<byte[]> corrupt)
    {
        var disk = new byte[DiskSize];
        corrupt(disk);
        Assert.That(Probe(disk), Is.Null);
    }

    [Test]
    public void Probe_DiskSmallerThanASuperblock_Nothing()
    {
        Assert.That(Probe(new byte[700]), Is.Null);
    }

    private static GuestFileSystem? Probe(byte[] disk)
    {
        using var raw = new RawDisk(new MemoryBlockDevice(disk, readOnly: true));
        return GuestFileSystemProbe.Probe(raw);
    }

    private static void Xfs(byte[] disk, long at, uint blockSize)
    {
        "XFSB"u8.CopyTo(disk.AsSpan((int)at));
        BinaryPrimitives.WriteUInt32BigEndian(disk.AsSpan((int)at + 4), blockSize);
    }

    private static void Ext(byte[] disk, long at, uint log)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(disk.AsSpan((int)at + 1024 + 24), log);
        BinaryPrimitives.WriteUInt16LittleEndian(disk.AsSpan((int)at + 1024 + 56), 0xEF53);
    }

    private static void Boot(byte[] disk, long at, string oem, ushort bytesPerSector, byte sectorsPerCluster)
    {
        var s = disk.AsSpan((int)at, 512);
        System.Text.Encoding.ASCII.GetBytes(oem).CopyTo(s[3..]);
        BinaryPrimitives.WriteUInt16LittleEndian(s[11..], bytesPerSector);
        s[13] = sectorsPerCluster;
        s[510] = 0x55;
        s[511] = 0xAA;
    }

    private static void Mbr(byte[] disk, int index, byte type, uint start, uint sectors)
    {
        var e = disk.AsSpan(446 + (16 * index), 16);
        e[4] = type;
        BinaryPrimitives.WriteUInt32LittleEndian(e[8..], start);
        BinaryPrimitives.WriteUInt32LittleEndian(e[12..], sectors);
        disk[510] = 0x55;
        disk[511] = 0xAA;
    }

    private static void ProtectiveMbr(byte[] disk) => Mbr(disk, 0, 0xEE, 1, (DiskSize / 512) - 1);
}
