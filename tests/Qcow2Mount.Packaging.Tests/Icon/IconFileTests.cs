using System.Buffers.Binary;
using Qcow2Mount.Packaging.Tests.Support;

namespace Qcow2Mount.Packaging.Tests.Icon;

/// <summary>
/// installer/icon/qcow2mount.ico, the icon the MSI installs (regenerated from qcow2mount.svg by make-ico.sh): a Windows
/// icon file with the sizes Explorer and the Start menu ask for.
/// </summary>
[TestFixture]
internal sealed class IconFileTests
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    [Test]
    public void Icon_HasFiveSizesFrom16To256With32BitColour()
    {
        byte[] ico = File.ReadAllBytes(Repository.CommittedIcon);
        var entries = Entries(ico);

        Assert.Multiple(() =>
        {
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(ico.AsSpan(0)), Is.Zero, "reserved");
            Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(ico.AsSpan(2)), Is.EqualTo(1), "type 1 = icon");
            Assert.That(entries.Select(e => e.Size), Is.EqualTo(new[] { 16, 24, 32, 48, 256 }));
            Assert.That(entries.Select(e => e.BitCount), Is.All.EqualTo(32));
            foreach (var e in entries)
            {
                Assert.That(e.Offset + e.Length, Is.LessThanOrEqualTo(ico.Length), $"{e.Size} px inside the file");
            }
        });
    }

    [Test]
    public void Icon_SmallSizesAreBitmapsAndTheLargestIsPng()
    {
        byte[] ico = File.ReadAllBytes(Repository.CommittedIcon);

        Assert.Multiple(() =>
        {
            foreach (var e in Entries(ico))
            {
                var data = ico.AsSpan(e.Offset, e.Length);
                if (e.Size == 256)
                {
                    Assert.That(data[..8].ToArray(), Is.EqualTo(PngSignature), "256 px: PNG, as Windows Vista and later store it");
                    Assert.That(BinaryPrimitives.ReadInt32BigEndian(data[16..]), Is.EqualTo(256), "PNG width");
                }
                else
                {
                    // BITMAPINFOHEADER: size 40, width, height x2 (colour and mask), 32 bits per pixel.
                    Assert.That(BinaryPrimitives.ReadInt32LittleEndian(data), Is.EqualTo(40), $"{e.Size} px header");
                    Assert.That(BinaryPrimitives.ReadInt32LittleEndian(data[4..]), Is.EqualTo(e.Size));
                    Assert.That(BinaryPrimitives.ReadInt32LittleEndian(data[8..]), Is.EqualTo(2 * e.Size));
                    Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(data[14..]), Is.EqualTo(32));
                }
            }
        });
    }

    private static (int Size, int BitCount, int Length, int Offset)[] Entries(byte[] ico)
    {
        int count = BinaryPrimitives.ReadUInt16LittleEndian(ico.AsSpan(4));
        return Enumerable.Range(0, count)
            .Select(i => ico.AsSpan(6 + (16 * i), 16).ToArray())
            .Select(d => (d[0] == 0 ? 256 : d[0], (int)BinaryPrimitives.ReadUInt16LittleEndian(d.AsSpan(6)), BinaryPrimitives.ReadInt32LittleEndian(d.AsSpan(8)), BinaryPrimitives.ReadInt32LittleEndian(d.AsSpan(12))))
            .ToArray();
    }
}
