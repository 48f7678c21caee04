using System.Text;

namespace Qcow2Mount.Core.Tests.Tools;

/// <summary>
/// <see cref="FormatProbe"/> against QEMU's own probe: each first sector is written by a qemu-io that opened a raw file
/// without -f (so probed it), which refuses (EPERM) exactly the sectors its probe would take for another format.
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class FormatProbeTests : ToolsTestDirectory
{
    private static byte[] Sector(params (int Offset, byte[] Bytes)[] parts)
    {
        var sector = new byte[512];
        foreach (var (offset, bytes) in parts)
        {
            bytes.CopyTo(sector, offset);
        }

        return sector;
    }

    private static byte[] Ascii(string text) => Encoding.Latin1.GetBytes(text);

    private static byte[] Bochs(string subtype, uint version) => Sector(
        (0, Ascii("Bochs Virtual HD Image\0")), (32, Ascii("Redolog\0")), (48, Ascii(subtype + "\0")), (64, BitConverter.GetBytes(version)));

    private static readonly TestCaseData[] Sectors =
    [
        new TestCaseData(Sector(), "raw").SetName("Zeros_Raw"),
        new TestCaseData(Sector((0, [0xEB, 0x63, 0x90]), (510, [0x55, 0xAA])), "raw").SetName("BootSector_Raw"),
        new TestCaseData(Sector((0, Ascii("QFI\xFB\0\0\0\x03"))), "qcow2").SetName("Qcow2V3_Qcow2"),
        new TestCaseData(Sector((0, Ascii("QFI\xFB\0\0\0\x02"))), "qcow2").SetName("Qcow2V2_Qcow2"),
        new TestCaseData(Sector((0, Ascii("QFI\xFB\0\0\0\x09"))), "qcow2").SetName("Qcow2V9_Qcow2"),
        new TestCaseData(Sector((0, Ascii("QFI\xFB\0\0\0\x01"))), "qcow").SetName("QcowV1_Qcow"),
        new TestCaseData(Sector((0, Ascii("QFI\xFB\0\0\0\0"))), "raw").SetName("QcowMagicVersion0_Raw"),
        new TestCaseData(Sector((0, Ascii("QED\0"))), "qed").SetName("Qed_Qed"),
        new TestCaseData(Sector((0, Ascii("QEDx"))), "raw").SetName("QedWithoutNul_Raw"),
        new TestCaseData(Sector((0, Ascii("KDMV"))), "vmdk").SetName("Vmdk4_Vmdk"),
        new TestCaseData(Sector((0, Ascii("COWD"))), "vmdk").SetName("Vmdk3_Vmdk"),
        new TestCaseData(Sector((0, Ascii("# Disk DescriptorFile\nversion=1\n"))), "vmdk").SetName("VmdkDescriptor_Vmdk"),
        new TestCaseData(Sector((0, Ascii("# a\n   \r\nversion=3\r\nCID=1"))), "vmdk").SetName("VmdkDescriptorCrlfBlankLine_Vmdk"),
        new TestCaseData(Sector((0, Ascii("\nversion=1\n"))), "raw").SetName("VmdkDescriptorEmptyFirstLine_Raw"),
        new TestCaseData(Sector((0, Ascii("version=4\n"))), "raw").SetName("VmdkDescriptorVersion4_Raw"),
        new TestCaseData(Sector((0, Ascii("version=2"))), "raw").SetName("VmdkDescriptorNoNewline_Raw"),
        new TestCaseData(Sector((64, [0x7F, 0x10, 0xDA, 0xBE])), "vdi").SetName("Vdi_Vdi"),
        new TestCaseData(Sector((60, [0x7F, 0x10, 0xDA, 0xBE])), "raw").SetName("VdiSignatureMisplaced_Raw"),
        new TestCaseData(Sector((0, Ascii("conectix"))), "vpc").SetName("Vpc_Vpc"),
        new TestCaseData(Sector((0, Ascii("vhdxfile"))), "vhdx").SetName("Vhdx_Vhdx"),
        new TestCaseData(Sector((0, Ascii("WithoutFreeSpace\x02\0\0\0"))), "parallels").SetName("Parallels_Parallels"),
        new TestCaseData(Sector((0, Ascii("WithouFreSpacExt\x02\0\0\0"))), "parallels").SetName("ParallelsExt_Parallels"),
        new TestCaseData(Sector((0, Ascii("WithoutFreeSpace\x03\0\0\0"))), "raw").SetName("ParallelsVersion3_Raw"),
        new TestCaseData(Bochs("Growing", 0x00020000), "bochs").SetName("Bochs_Bochs"),
        new TestCaseData(Bochs("Growing", 0x00010000), "bochs").SetName("BochsV1_Bochs"),
        new TestCaseData(Bochs("Undoable", 0x00020000), "raw").SetName("BochsUndoable_Raw"),
        new TestCaseData(Sector((0, Ascii("LUKS\xBA\xBE\0\x01"))), "luks").SetName("Luks1_Luks"),
        new TestCaseData(Sector((0, Ascii("LUKS\xBA\xBE\0\x02"))), "raw").SetName("Luks2_Raw"),
        new TestCaseData(Sector((0, Ascii("#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n"))), "cloop").SetName("Cloop_Cloop"),
        new TestCaseData(Sector((0, Ascii("#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $2\n"))), "raw").SetName("CloopAlmost_Raw"),
        new TestCaseData(Sector((0, Ascii("koly"))), "raw").SetName("DmgIsProbedByFileNameOnly_Raw"),
    ];

    [TestCaseSource(nameof(Sectors))]
    public void Detect_FirstSector_AgreesWithQemuProbe(byte[] sector, string expected)
    {
        string disk = PathOf("disk.img"), data = PathOf("sector.bin");
        File.WriteAllBytes(disk, new byte[64 << 10]);
        File.WriteAllBytes(data, sector);

        // qemu-io without -f probes the (all-zero, so raw) file and then guards its first sector.
        var qemu = QemuTools.Run("qemu-io", "-c", $"write -s {data} 0 512", disk);

        Assert.Multiple(() =>
        {
            Assert.That(FormatProbe.Detect(sector), Is.EqualTo(expected));
            Assert.That(qemu.Stdout.Contains("Operation not permitted", StringComparison.Ordinal), Is.EqualTo(expected != "raw"), qemu.Stdout + qemu.Stderr);
        });
    }

    [Test]
    public void Detect_ShortFile_ReadAsZeroPadded()
    {
        Assert.Multiple(() =>
        {
            Assert.That(FormatProbe.Detect([0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 3]), Is.EqualTo("qcow2"));
            Assert.That(FormatProbe.Detect("QED"u8), Is.EqualTo("qed"), "the missing fourth byte reads as the NUL of the magic");
            Assert.That(FormatProbe.Detect([]), Is.EqualTo("raw"));
        });
    }
}
