using System.Buffers.Binary;
using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Qcow2.Bitmaps;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Hostile;

/// <summary>
/// Hostile bitmaps extensions, directories and tables (one field of a qemu-img-made image changed per case): the open
/// fails with a one-line <see cref="ImageFormatException"/> naming the field, read-only and read-write alike (QEMU
/// fails both: "doesn't satisfy the constraints"), and no byte of the image changes. Table entries are read on a
/// read-write open only (the tables are what a writer updates).
/// </summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class BitmapDirectoryHostileTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        yield return Case("type 5", Entry(16, [5]), "type 5");
        yield return Case("granularity bits 8", Entry(17, [8]), "granularity_bits 8");
        yield return Case("granularity bits 40", Entry(17, [40]), "granularity_bits 40");
        yield return Case("reserved flag", Entry(12, [0, 0, 0, 0x22]), "reserved flags 0x20");
        yield return Case("table size huge", Entry(8, [0xFF, 0xFF, 0xFF, 0xFF]), "bitmap_table_size 4294967295");
        yield return Case("table offset unaligned", Entry(0, [0, 0, 0, 0, 0, 0x04, 0x00, 0x10]), "bitmap_table_offset 0x40010");
        yield return Case("table offset past the end", Entry(0, [0, 0, 0x10, 0, 0, 0, 0, 0]), "bitmap_table_offset 0x100000000000");
        yield return Case("table offset 0", Entry(0, new byte[8]), "bitmap_table_offset 0x0");
        yield return Case("name size 0", Entry(18, [0, 0]), "name_size 0");
        yield return Case("name past the directory", Entry(18, [0x07, 0xD0]), "runs past the end of the directory");
        yield return Case("extra data past the directory", Entry(20, [0, 0, 1, 0]), "runs past the end of the directory");
        yield return Case("nb_bitmaps 0", Extension(0, [0, 0, 0, 0]), "nb_bitmaps 0");
        yield return Case("nb_bitmaps 70000", Extension(0, [0, 1, 0x11, 0x70]), "nb_bitmaps 70000");
        yield return Case("nb_bitmaps 2 with one entry", Extension(0, [0, 0, 0, 2]), "too short for 2 entries");
        yield return Case("directory size 1 TiB", Extension(8, [0, 0, 1, 0, 0, 0, 0, 0]), "bitmap_directory_size 1099511627776");
        yield return Case("directory size smaller than its entry", Extension(8, [0, 0, 0, 0, 0, 0, 0, 24]), "runs past the end of the directory");
        yield return Case("directory offset unaligned", Extension(16, [0, 0, 0, 0, 0, 0x05, 0, 0x08]), "bitmap_directory_offset 0x50008");
        yield return Case("directory past the end", Extension(16, [0, 0, 0x10, 0, 0, 0, 0, 0]), "lies beyond the end of the file");
        yield return Case("table entry reserved bits", TableEntry([0x80, 0, 0, 0, 0, 0, 0, 0]), "table entry 0 (0x8000000000000000) is invalid", readWriteOnly: true);
        yield return Case("table entry unaligned", TableEntry([0, 0, 0, 0, 0, 0x05, 0x02, 0]), "table entry 0 (0x0000000000050200) is invalid", readWriteOnly: true);
        yield return Case("table entry past the end", TableEntry([0, 0, 0x10, 0, 0, 0, 0, 0]), "table entry 0 (0x0000100000000000) is invalid", readWriteOnly: true);
    }

    [TestCaseSource(nameof(Cases))]
    public void Open_HostileBitmaps_OneLineFormatErrorImageUnchanged(Action<string> patch, string message, bool readWriteOnly)
    {
        using var dir = new TempDir("hostile-bitmap");
        string image = dir.File("x.qcow2");
        QemuTools.Create(image, 64 << 20);
        QemuTools.Ok("qemu-img", "bitmap", "--add", image, "b");
        patch(image);
        byte[] before = File.ReadAllBytes(image);

        var readWrite = Assert.Throws<ImageFormatException>(() => Qcow2Image.Open(image, new ImageOpenOptions()).Dispose());
        Assert.Multiple(() =>
        {
            Assert.That(readWrite!.Message, Does.Contain(message).And.Not.Contain("\n"));
            Assert.That(readWrite.Message, Does.StartWith(image + ": "));
            if (readWriteOnly)
            {
                Assert.DoesNotThrow(() => Qcow2Image.Open(image, new ImageOpenOptions { ReadOnly = true }).Dispose());
            }
            else
            {
                Assert.That(() => Qcow2Image.Open(image, new ImageOpenOptions { ReadOnly = true }).Dispose(), Throws.TypeOf<ImageFormatException>().With.Message.Contains(message));
            }

            Assert.That(File.ReadAllBytes(image), Is.EqualTo(before), "nothing written");
        });
    }

    [Test]
    public void Open_TwoBitmapsWithOneName_Refused()
    {
        using var dir = new TempDir("hostile-bitmap");
        string image = dir.File("x.qcow2");
        QemuTools.Create(image, 64 << 20);
        QemuTools.Ok("qemu-img", "bitmap", "--add", image, "a");
        QemuTools.Ok("qemu-img", "bitmap", "--add", image, "b");
        Entry(32 + 24, "a"u8.ToArray())(image); // the second entry's name
        Assert.That(() => Qcow2Image.Open(image, new ImageOpenOptions { ReadOnly = true }).Dispose(), Throws.TypeOf<ImageFormatException>().With.Message.Contains("the name 'a' is used twice"));
    }

    private static TestCaseData Case(string name, Action<string> patch, string message, bool readWriteOnly = false) =>
        new TestCaseData(patch, message, readWriteOnly).SetArgDisplayNames(name);

    /// <summary>Overwrites bytes of the first directory entry.</summary>
    private static Action<string> Entry(int at, byte[] bytes) => image => Patch(image, Extension(image).DirectoryOffset + at, bytes);

    /// <summary>Overwrites bytes of the bitmaps extension's data in cluster 0.</summary>
    private static Action<string> Extension(int at, byte[] bytes) => image => Patch(image, ExtensionDataOffset(image) + at, bytes);

    /// <summary>Overwrites the first bitmap's first table entry.</summary>
    private static Action<string> TableEntry(byte[] bytes) => image =>
    {
        var raw = new byte[8];
        using (var file = FileBlockDevice.Open(image, readOnly: true))
        {
            file.Read(Extension(image).DirectoryOffset, raw);
        }

        Patch(image, BinaryPrimitives.ReadInt64BigEndian(raw), bytes);
    };

    private static BitmapsExtension Extension(string image)
    {
        using var file = FileBlockDevice.Open(image, readOnly: true);
        return BitmapsExtension.Find(HeaderStore.Read(file)) ?? throw new AssertionException("no bitmaps extension");
    }

    /// <summary>Where the bitmaps extension's data starts in cluster 0 (the extensions follow the header).</summary>
    private static long ExtensionDataOffset(string image)
    {
        byte[] head = new byte[4096];
        using (var file = FileBlockDevice.Open(image, readOnly: true))
        {
            file.Read(0, head);
        }

        int pos = (BinaryPrimitives.ReadInt32BigEndian(head.AsSpan(100)) + 7) & ~7;
        while (true)
        {
            uint type = BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(pos));
            int length = BinaryPrimitives.ReadInt32BigEndian(head.AsSpan(pos + 4));
            if (type == HeaderExtension.Bitmaps)
            {
                return pos + 8;
            }

            Assert.That(type, Is.Not.Zero, "no bitmaps extension");
            pos += 8 + ((length + 7) & ~7);
        }
    }

    private static void Patch(string image, long offset, byte[] bytes)
    {
        using var file = FileBlockDevice.Open(image, readOnly: false);
        file.Write(offset, bytes);
        file.Flush();
    }
}
