using System.Buffers.Binary;
using System.Globalization;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Vfs;

/// <summary>
/// The fixed-VHD footer against the public VHD spec's field table and against QEMU: its vpc driver must read a file of
/// raw bytes plus our footer as a VHD of that size, and the CHS geometry must be the one qemu-img writes for the same
/// sector count.
/// </summary>
[Category(TestCategories.Qemu)]
public sealed class VhdFooterTests
{
    private const string Image = "/images/disk.qcow2";

    [Test]
    public void Build_64MiB_SpecFieldsBigEndian()
    {
        const long size = 64L << 20;
        byte[] f = VhdFooter.Build(size, Image);
        Assert.Multiple(() =>
        {
            Assert.That(f, Has.Length.EqualTo(512));
            Assert.That(System.Text.Encoding.ASCII.GetString(f, 0, 8), Is.EqualTo("conectix"), "cookie");
            Assert.That(BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(8)), Is.EqualTo(2u), "features: the reserved bit");
            Assert.That(BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(12)), Is.EqualTo(0x00010000u), "file format version 1.0");
            Assert.That(BinaryPrimitives.ReadUInt64BigEndian(f.AsSpan(16)), Is.EqualTo(ulong.MaxValue), "data offset: none (fixed)");
            Assert.That(BinaryPrimitives.ReadUInt64BigEndian(f.AsSpan(40)), Is.EqualTo((ulong)size), "original size");
            Assert.That(BinaryPrimitives.ReadUInt64BigEndian(f.AsSpan(48)), Is.EqualTo((ulong)size), "current size");
            Assert.That(BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(56)), Is.EqualTo(963), "cylinders: 131072 sectors / 17 / 8 heads");
            Assert.That(f[58], Is.EqualTo(8), "heads");
            Assert.That(f[59], Is.EqualTo(17), "sectors per track");
            Assert.That(BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(60)), Is.EqualTo(2u), "disk type fixed");
            Assert.That(BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(64)), Is.EqualTo(VhdFooter.Checksum(f)), "checksum");
            Assert.That(f.AsSpan(84).ToArray(), Is.All.Zero, "saved state and reserved bytes");
        });
    }

    [Test]
    public void Checksum_OnesComplementOfByteSumWithoutItsOwnField()
    {
        byte[] f = VhdFooter.Build(1 << 20, Image);
        uint sum = 0;
        for (int i = 0; i < 512; i++)
        {
            sum += i is >= 64 and < 68 ? 0u : f[i];
        }

        Assert.That(BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(64)), Is.EqualTo(~sum));
    }

    [Test]
    public void Build_SameImageTwice_SameFooter_OtherImageOtherId()
    {
        byte[] a = VhdFooter.Build(1 << 20, Image);
        byte[] b = VhdFooter.Build(1 << 20, Image);
        byte[] c = VhdFooter.Build(1 << 20, "/images/other.qcow2");
        Assert.Multiple(() =>
        {
            Assert.That(a, Is.EqualTo(b), "stable across mounts");
            Assert.That(c.AsSpan(68, 16).ToArray(), Is.Not.EqualTo(a.AsSpan(68, 16).ToArray()), "unique id differs per image");
        });
    }

    [Test]
    public void Build_SizeNotWholeSectors_Refused() =>
        Assert.That(() => VhdFooter.Build(1000, Image), Throws.InstanceOf<ArgumentOutOfRangeException>());

    /// <summary>qemu-img rounds the size up to what its CHS covers and writes that geometry: ours for the same sector count must agree.</summary>
    [TestCase("1M")]
    [TestCase("64M")]
    [TestCase("100M")]
    [TestCase("1G")]
    [TestCase("4095M")]
    [TestCase("20G")]
    [TestCase("32G")]
    [TestCase("100G")]
    public void Geometry_QemuImgFixedVhd_SameCylindersHeadsSectors(string size)
    {
        using var dir = new TempDir("vhd-geometry");
        string path = Path.Combine(dir.Path, "q.vhd");
        QemuTools.QemuImg("create", "-q", "-f", "vpc", "-o", "subformat=fixed", path, size);
        byte[] footer = new byte[512];
        using (var file = File.OpenHandle(path))
        {
            RandomAccess.Read(file, footer, RandomAccess.GetLength(file) - 512);
        }

        long sectors = (long)(BinaryPrimitives.ReadUInt64BigEndian(footer.AsSpan(48)) / 512);
        var (cylinders, heads, perTrack) = VhdFooter.Geometry(sectors);
        Assert.That(
            $"{cylinders}/{heads}/{perTrack}",
            Is.EqualTo(string.Create(CultureInfo.InvariantCulture, $"{BinaryPrimitives.ReadUInt16BigEndian(footer.AsSpan(56))}/{footer[58]}/{footer[59]}")),
            $"{sectors} sectors");
    }

    /// <summary>Raw bytes followed by our footer: qemu-img takes it as a VHD of exactly that size with those bytes.</summary>
    [Test]
    public void Build_AppendedToRawBytes_QemuReadsVpcOfThatSizeIdenticalToTheRaw()
    {
        using var dir = new TempDir("vhd-qemu");
        string raw = Path.Combine(dir.Path, "disk.raw");
        string vhd = Path.Combine(dir.Path, "disk.vhd");
        var data = new byte[3 << 20];
        new Random(5).NextBytes(data);
        File.WriteAllBytes(raw, data);
        File.WriteAllBytes(vhd, [.. data, .. VhdFooter.Build(data.Length, raw)]);

        var info = QemuTools.QemuImg("info", "--output=json", "--image-opts", $"driver=vpc,force_size_calc=current_size,file.filename={vhd}");
        var compare = QemuTools.QemuImg(["compare", "--image-opts", $"driver=vpc,force_size_calc=current_size,file.filename={vhd}", $"driver=raw,file.filename={raw}"], 0, 1);
        Assert.Multiple(() =>
        {
            Assert.That(info.StandardOutput, Does.Contain("\"format\": \"vpc\""), info.ToString());
            Assert.That(info.StandardOutput, Does.Contain($"\"virtual-size\": {data.Length},"), info.ToString());
            Assert.That(compare.ExitCode, Is.Zero, compare.ToString());
        });
    }
}
