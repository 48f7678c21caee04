using Qcow2Mount.Core.Errors;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Tools;

/// <summary>
/// How <see cref="DiskImage"/> picks a format: a *.qcow2 without the qcow2 magic and files of other formats are
/// refused unless the format is given; a probed raw disk guards its first sector as QEMU does (each case is run through
/// qemu-io, probing as well, as the oracle).
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class DiskImageTests : ToolsTestDirectory
{
    private static readonly byte[] Qcow2V3Magic = [0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 3];

    /// <summary>A raw file of seeded random bytes (its first sector is no format's).</summary>
    private string RandomFile(string name, int size = 1 << 20)
    {
        var bytes = new byte[size];
        new Random(42).NextBytes(bytes);
        bytes[0] = 0xEB; // no magic starts with it
        string path = PathOf(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Open_Qcow2NameWithoutMagic_RefusedOneLineFileUnchanged(bool readOnly)
    {
        string image = RandomFile("disk.qcow2");
        string before = Checksum.Sha256OfFile(image);

        var e = Assert.Throws<ImageFormatException>(() => DiskImage.Open(image, new ImageOpenOptions { ReadOnly = readOnly }).Dispose());

        Assert.Multiple(() =>
        {
            Assert.That(e!.Message, Does.StartWith($"{image}: not a qcow2 image").And.Contain("-f raw").And.Not.Contain("\n"));
            Assert.That(Checksum.Sha256OfFile(image), Is.EqualTo(before));
        });
    }

    [Test]
    public void Open_Qcow2NameWithoutMagicFormatRaw_OpensAsRawUnguarded()
    {
        string image = RandomFile("disk.QCOW2");

        using (var disk = DiskImage.Open(image, "raw", new ImageOpenOptions()))
        {
            Assert.That(disk, Is.TypeOf<RawDisk>().With.Property(nameof(RawDisk.ProtectsFirstSector)).False);
            disk.Write(0, Qcow2V3Magic);
        }

        Assert.That(File.ReadAllBytes(image)[..8], Is.EqualTo(Qcow2V3Magic));
    }

    [Test]
    public void Open_Qcow2NameWithQcow2MagicVersion0_OpenedAsQcow2AndRefusedForTheVersion()
    {
        // QEMU's probe calls this raw; it must never be written as a raw disk.
        string image = RandomFile("disk.img");
        ImageBytes.Patch(image, 0, [0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 0]);
        ImageBytes.Patch(image, 20, [0, 0, 0, 16]); // cluster_bits, checked first

        var e = Assert.Throws<UnsupportedFeatureException>(() => DiskImage.Open(image, new ImageOpenOptions()).Dispose());

        Assert.That(e!.Message, Is.EqualTo($"{image}: qcow2 version 0 is not supported (2 and 3 are)"));
    }

    [TestCase("KDMV", "vmdk")]
    [TestCase("conectix", "vpc")]
    [TestCase("vhdxfile", "vhdx")]
    public void Open_OtherFormatsContainer_RefusedUnlessRaw(string magic, string format)
    {
        string image = RandomFile("disk.img");
        ImageBytes.Patch(image, 0, System.Text.Encoding.ASCII.GetBytes(magic));

        var e = Assert.Throws<ImageFormatException>(() => DiskImage.Open(image, new ImageOpenOptions()).Dispose());

        Assert.That(e!.Message, Does.StartWith($"{image}: this is a {format} image"));
        Assert.DoesNotThrow(() => DiskImage.Open(image, "raw", new ImageOpenOptions()).Dispose());
    }

    /// <summary>Runs qemu-io on a probed raw file: true when it refused the command with EPERM.</summary>
    private bool QemuRefuses(string image, string command)
    {
        var (_, stdout, stderr) = QemuTools.Run("qemu-io", "-c", command, image);
        return (stdout + stderr).Contains("Operation not permitted", StringComparison.Ordinal);
    }

    [Test]
    public void Write_ProbedRawQcow2HeaderIntoFirstSector_RefusedLikeQemu()
    {
        string ours = RandomFile("ours.img"), theirs = RandomFile("theirs.img");
        string header = PathOf("header.bin");
        File.WriteAllBytes(header, Qcow2V3Magic);
        string before = Checksum.Sha256OfFile(ours);

        using (var disk = DiskImage.Open(ours, new ImageOpenOptions()))
        {
            var e = Assert.Throws<FormatProtectionException>(() => disk.Write(0, Qcow2V3Magic));
            Assert.That(e!.Message, Is.EqualTo($"{ours}: write to the first sector refused: it would make this probed raw image look like a qcow2 image (give the format raw explicitly to allow it)"));
        }

        Assert.Multiple(() =>
        {
            Assert.That(QemuRefuses(theirs, $"write -s {header} 0 8"), Is.True, "qemu-io refuses it too");
            Assert.That(Checksum.Sha256OfFile(ours), Is.EqualTo(before));
            Assert.That(DiskImage.ProbeFormat(ours), Is.EqualTo("raw"));
        });
    }

    [Test]
    public void Write_ProbedRawTwoPartialWritesAssemblingAHeader_SecondRefusedLikeQemu()
    {
        string ours = RandomFile("ours.img"), theirs = RandomFile("theirs.img");
        string magic = PathOf("magic.bin"), version = PathOf("version.bin");
        File.WriteAllBytes(magic, [0x51, 0x46, 0x49, 0xFB, 0, 0, 0, 0]);
        File.WriteAllBytes(version, [3]);

        using (var disk = DiskImage.Open(ours, new ImageOpenOptions()))
        {
            disk.Write(0, File.ReadAllBytes(magic)); // magic with version 0: nobody's format, allowed
            Assert.Throws<FormatProtectionException>(() => disk.Write(7, [3]));
            disk.Write(4096, [3]); // outside the first sector: never checked
        }

        Assert.Multiple(() =>
        {
            Assert.That(QemuRefuses(theirs, $"write -s {magic} 0 8"), Is.False);
            Assert.That(QemuRefuses(theirs, $"write -s {version} 7 1"), Is.True);
            Assert.That(File.ReadAllBytes(ours)[..8], Is.EqualTo(File.ReadAllBytes(theirs)[..8]));
        });
    }

    [Test]
    public void WriteZeroes_ProbedRawCompletingQedMagic_RefusedLikeQemu_WholeSectorAllowed()
    {
        string ours = RandomFile("ours.img"), theirs = RandomFile("theirs.img");
        ImageBytes.Patch(ours, 0, "QEDx"u8);
        ImageBytes.Patch(theirs, 0, "QEDx"u8);

        using (var disk = DiskImage.Open(ours, new ImageOpenOptions()))
        {
            Assert.Throws<FormatProtectionException>(() => disk.WriteZeroes(3, 1, mayUnmap: false));
            Assert.Throws<FormatProtectionException>(() => disk.Discard(3, 1));
            Assert.That(File.ReadAllBytes(ours)[..4], Is.EqualTo("QEDx"u8.ToArray()));
            disk.WriteZeroes(0, 512, mayUnmap: true);
        }

        Assert.Multiple(() =>
        {
            Assert.That(QemuRefuses(theirs, "write -z 3 1"), Is.True);
            Assert.That(QemuRefuses(theirs, "write -z 0 512"), Is.False);
            Assert.That(File.ReadAllBytes(ours)[..512], Is.All.EqualTo(0));
        });
    }

    [Test]
    public void Write_ProbedRawOrdinaryFirstSector_Written()
    {
        string image = RandomFile("disk.img");
        var mbr = new byte[512];
        new Random(3).NextBytes(mbr);
        mbr[0] = 0xEB;
        mbr[510] = 0x55;
        mbr[511] = 0xAA;

        using (var disk = DiskImage.Open(image, new ImageOpenOptions()))
        {
            Assert.That(disk, Is.TypeOf<RawDisk>().With.Property(nameof(RawDisk.ProtectsFirstSector)).True);
            disk.Write(0, mbr);
            disk.Write(100, Qcow2V3Magic); // the magic, but not at the start
        }

        Assert.That(File.ReadAllBytes(image)[..4], Is.EqualTo(mbr[..4]));
    }

    [Test]
    public void Write_ExplicitRawQcow2Header_WrittenLikeQemuWithFormatRaw()
    {
        string image = RandomFile("disk.img");

        using (var disk = DiskImage.Open(image, "raw", new ImageOpenOptions()))
        {
            disk.Write(0, Qcow2V3Magic);
        }

        Assert.That(File.ReadAllBytes(image)[..8], Is.EqualTo(Qcow2V3Magic));
    }

    [Test]
    public void Write_ProbedRawReadOnly_ReadOnlyErrorNotProtection()
    {
        string image = RandomFile("disk.img");

        using var disk = DiskImage.Open(image, new ImageOpenOptions { ReadOnly = true });

        Assert.Throws<ReadOnlyImageException>(() => disk.Write(0, Qcow2V3Magic));
    }
}
