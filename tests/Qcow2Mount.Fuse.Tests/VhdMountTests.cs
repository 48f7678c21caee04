using Qcow2Mount.Fuse.Tests.Support;

namespace Qcow2Mount.Fuse.Tests;

/// <summary>
/// <c>--vhd</c> through a real FUSE mount: QEMU's vpc driver reads MNT/disk.vhd as the image's disk, writes into its
/// disk part reach the image (checked clean and equal to a qemu-io twin after unmount), the footer refuses changes.
/// </summary>
[Category(TestCategories.Mount)]
public sealed class VhdMountTests : ScratchFixture
{
    [Test]
    public void Mount_Vhd_QemuComparesIdenticalDiskWritesReachImageFooterRefused()
    {
        string image = Images.Qcow2(Scratch, "disk.qcow2", "64M", "write -P 0xab 1M 3M", "write -P 0x11 40M 100k");
        string twin = Scratch.PathOf("twin.qcow2");
        File.Copy(image, twin);
        string mnt = Scratch.NewDirectory("mnt");
        const long size = 64L << 20;

        Cli.Mount("--vhd", image, mnt);
        string vhd = Path.Combine(mnt, "disk.vhd");
        var compare = ProcessRunner.Capture("qemu-img", ["compare", "-U", "--image-opts", $"driver=vpc,force_size_calc=current_size,file.filename={vhd}", $"driver=qcow2,file.filename={image}"]);
        byte[] footer = new byte[512];
        Exception? footerWrite;
        using (var file = File.OpenHandle(vhd, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(file, Enumerable.Repeat((byte)0xC3, 65536).ToArray(), 8L << 20);
            RandomAccess.Read(file, footer, size);
            footerWrite = Record(() => RandomAccess.Write(file, new byte[512], size));
            RandomAccess.Write(file, footer, size); // the footer as it is: accepted
        }

        string footerAfter = Convert.ToHexString(ReadAt(vhd, size, 512));
        Cli.Unmount(mnt);
        QemuTools.Ok("qemu-io", "-f", "qcow2", "-c", "write -P 0xc3 8M 64k", twin);
        var check = ProcessRunner.Capture("qemu-img", ["check", image]);
        var twinCompare = ProcessRunner.Capture("qemu-img", ["compare", image, twin]);
        Assert.Multiple(() =>
        {
            Assert.That(new FileInfo(image).Length, Is.GreaterThan(0));
            Assert.That(compare.ExitCode, Is.Zero, "qemu-img compare of the VHD view and the image: " + compare);
            Assert.That(System.Text.Encoding.ASCII.GetString(footer, 0, 8), Is.EqualTo("conectix"));
            Assert.That(footerWrite, Is.InstanceOf<UnauthorizedAccessException>(), "a footer change fails with EPERM");
            Assert.That(footerAfter, Is.EqualTo(Convert.ToHexString(footer)), "the footer is unchanged");
            Assert.That(check.ExitCode, Is.Zero, check.ToString());
            Assert.That(twinCompare.ExitCode, Is.Zero, "the write through disk.vhd reached the image: " + twinCompare);
        });
    }

    private static Exception? Record(Action action)
    {
        try
        {
            action();
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }

    private static byte[] ReadAt(string path, long offset, int length)
    {
        var buffer = new byte[length];
        using var file = File.OpenHandle(path);
        RandomAccess.Read(file, buffer, offset);
        return buffer;
    }
}
