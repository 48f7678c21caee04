using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Vfs;

/// <summary>The VHD view through the file rules: the disk's bytes then the footer; writes reach the disk, the footer stays.</summary>
[Category(TestCategories.Unit)]
public sealed class FixedVhdDiskTests
{
    private const int Size = 1 << 20;

    private static (ImageDirectory Vfs, RawFile Raw, RawFile Vhd, MemoryDisk Disk) Create(int size = Size)
    {
        var disk = new MemoryDisk(size);
        var directory = new ImageDirectory(caseSensitiveNames: false);
        var raw = directory.Add("/images/disk.qcow2", disk);
        var vhd = directory.AddVhd(raw);
        return (directory, raw, vhd, disk);
    }

    [Test]
    public void AddVhd_Names_DiskVhdBesideDiskRawSizePlusFooter()
    {
        var (vfs, raw, vhd, _) = Create();
        Assert.Multiple(() =>
        {
            Assert.That(vfs.Files.Select(f => f.Name), Is.EqualTo(new[] { "disk.raw", "disk.vhd" }));
            Assert.That(vhd.Size, Is.EqualTo(raw.Size + 512));
            Assert.That(vfs.Find("DISK.VHD"), Is.SameAs(vhd), "found ignoring case on Windows");
        });
    }

    [Test]
    public void Read_AcrossTheEndOfTheDisk_DiskBytesThenFooterThenEnd()
    {
        var (vfs, _, vhd, disk) = Create();
        disk.Bytes[^100..].Fill(0x5A);
        var buffer = new byte[4096];
        int count = vfs.Read(vhd, buffer, Size - 100);
        var footer = VhdFooter.Build(Size, "/images/disk.qcow2");
        Assert.Multiple(() =>
        {
            Assert.That(count, Is.EqualTo(612), "100 disk bytes and the 512-byte footer");
            Assert.That(buffer[..100], Is.All.EqualTo(0x5A));
            Assert.That(buffer[100..612], Is.EqualTo(footer));
            Assert.That(vfs.Read(vhd, buffer, Size + 512), Is.Zero, "end of file");
        });
    }

    [Test]
    public void Write_DiskPart_ReachesTheDiskAndTheRawFile()
    {
        var (vfs, raw, vhd, disk) = Create();
        vfs.Write(vhd, Enumerable.Repeat((byte)0xC3, 8192).ToArray(), 4096, WritePastEnd.Refuse);
        var back = new byte[8192];
        vfs.Read(raw, back, 4096);
        Assert.Multiple(() =>
        {
            Assert.That(disk.Bytes[4096..12288].ToArray(), Is.All.EqualTo(0xC3));
            Assert.That(back, Is.All.EqualTo(0xC3), "the raw file shows it");
        });
    }

    [Test]
    public void Write_IntoTheFooter_RefusedAndNothingWritten()
    {
        var (vfs, _, vhd, disk) = Create();
        var data = Enumerable.Repeat((byte)0xEE, 1024).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(() => vfs.Write(vhd, data, Size - 512, WritePastEnd.Refuse), Throws.InstanceOf<ReadOnlyRegionException>(), "across the boundary");
            Assert.That(() => vfs.Write(vhd, data.AsSpan(0, 16).ToArray(), Size + 8, WritePastEnd.Refuse), Throws.InstanceOf<ReadOnlyRegionException>(), "inside the footer");
            Assert.That(() => vfs.Allocate(vhd, new SpaceRequest(SpaceOperation.Zero, Size - 512, 1024, KeepSize: true)), Throws.InstanceOf<ReadOnlyRegionException>(), "zeroing the footer");
            Assert.That(disk.Bytes[(Size - 512)..].ToArray(), Is.All.Zero, "the disk part of a refused write is not written either");
            var footer = new byte[512];
            vfs.Read(vhd, footer, Size);
            Assert.That(footer, Is.EqualTo(VhdFooter.Build(Size, "/images/disk.qcow2")));
        });
    }

    [Test]
    public void Write_FooterRewrittenUnchanged_Accepted()
    {
        var (vfs, _, vhd, disk) = Create();
        var chunk = new byte[1024];
        vfs.Read(vhd, chunk, Size - 512);
        chunk.AsSpan(0, 512).Fill(0x77);
        Assert.That(vfs.Write(vhd, chunk, Size - 512, WritePastEnd.Refuse), Is.EqualTo(1024));
        Assert.That(disk.Bytes[^512..].ToArray(), Is.All.EqualTo(0x77));
    }

    [Test]
    public void AddVhd_SizeNotWholeSectors_MountFailed()
    {
        var directory = new ImageDirectory();
        var raw = directory.Add("/images/odd.img", new MemoryDisk(1000));
        Assert.That(() => directory.AddVhd(raw), Throws.InstanceOf<Hosting.MountFailedException>().With.Message.Contains("multiple of 512"));
    }

    [Test]
    public void Dispose_Directory_DiskDisposedOnceByItsRawFile()
    {
        var (vfs, _, _, disk) = Create();
        vfs.Dispose();
        Assert.That(disk.Disposed, Is.True);
    }
}
