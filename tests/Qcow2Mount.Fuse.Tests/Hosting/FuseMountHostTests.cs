using Qcow2Mount.Core.Hosting;
using Qcow2Mount.Core.Vfs;
using Qcow2Mount.Fuse.Hosting;
using Qcow2Mount.Fuse.Tests.Support;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Fuse.Tests.Hosting;

/// <summary>The Linux mount host the command line drives: options, mount point names, what is mounted where, and one mount's life through the seam.</summary>
[Category(TestCategories.Mount)]
public sealed class FuseMountHostTests : ScratchFixture
{
    private readonly FuseMountHost _host = new();

    [TestCase("allow_other")]
    [TestCase("noatime")]
    [TestCase("uid=1000")]
    [TestCase("umask=027")]
    [TestCase("max_read=131072")]
    public void AcceptsOption_LibfuseOption_True(string option) => Assert.That(_host.AcceptsOption(option), Is.True);

    [TestCase("bogus")]
    [TestCase("allow_other=1")]
    [TestCase("uid")]
    [TestCase("cache-size=64M")]
    public void AcceptsOption_NotALibfuseOption_False(string option) => Assert.That(_host.AcceptsOption(option), Is.False);

    [TestCase("uid=root", "mount option 'uid=root': expected a decimal id")]
    [TestCase("umask=999", "mount option 'umask=999': expected an octal mask up to 0777")]
    public void AcceptsOption_BadOwnerValue_ArgumentExceptionWithTheUsageMessage(string option, string message)
    {
        var error = Assert.Throws<ArgumentException>(() => _host.AcceptsOption(option));
        Assert.That(error!.Message, Is.EqualTo(message));
    }

    [Test]
    public void NormalizeMountPoint_RelativeOrTrailingSlash_AbsoluteWithoutIt()
    {
        Assert.Multiple(() =>
        {
            Assert.That(_host.NormalizeMountPoint("/mnt/raw/"), Is.EqualTo("/mnt/raw"));
            Assert.That(_host.NormalizeMountPoint("/"), Is.EqualTo("/"));
            Assert.That(_host.NormalizeMountPoint("raw"), Is.EqualTo(Path.Combine(Environment.CurrentDirectory, "raw")));
            Assert.That(_host.CaseSensitiveNames, Is.True);
            Assert.That(_host.Background, Is.Not.Null, "Linux mounts serve from a background process unless -f");
        });
    }

    [Test]
    public void Find_RootFileSystemAndPlainDirectory_NotOursAndNothing()
    {
        var root = _host.Find("/");
        Assert.Multiple(() =>
        {
            Assert.That(root, Is.Not.Null);
            Assert.That(root!.IsOurs, Is.False);
            Assert.That(_host.Find(Scratch.NewDirectory("plain")), Is.Null);
        });
    }

    /// <summary>Mount, find, release (a lazy detach with nothing open ends serving), flush and close: the CLI's path through the seam, in process.</summary>
    [Test]
    public void MountServeRelease_ThroughTheSeam_FoundAsOursWhileMountedThenGone()
    {
        string mnt = Scratch.NewDirectory("mnt");
        var spec = new MountSpec { MountPoint = _host.NormalizeMountPoint(mnt) };
        _host.Check(spec);
        var disk = new MemoryDisk(1 << 20);
        var vfs = new ImageDirectory(_host.CaseSensitiveNames);
        vfs.Add(Scratch.PathOf("disk.qcow2"), disk);
        MountEntry? whileMounted = null;
        using var ready = new ManualResetEventSlim();
        using (var mount = _host.Mount(vfs, spec, _ => ready.Set(), _ => { }))
        {
            var serving = new Thread(mount.Serve) { IsBackground = true };
            serving.Start();
            Assert.That(ready.Wait(TimeSpan.FromSeconds(20)), Is.True, "the mount never served");
            using (var file = File.OpenHandle(Path.Combine(mnt, "disk.raw"), FileMode.Open, FileAccess.Write))
            {
                RandomAccess.Write(file, new byte[] { 1, 2, 3 }, 0);
            }

            whileMounted = _host.Find(spec.MountPoint);
            mount.Release();
            Assert.That(serving.Join(TimeSpan.FromSeconds(20)), Is.True, "Serve did not return after the release");
            Assert.That(mount.IsServing, Is.False);
        }

        Assert.Multiple(() =>
        {
            Assert.That(whileMounted, Is.EqualTo(new MountEntry(spec.MountPoint, Scratch.PathOf("disk.qcow2"), "fuse.qcow2mount", true)));
            Assert.That(_host.Find(spec.MountPoint), Is.Null);
            Assert.That(vfs.Close(_ => { }), Is.True);
            Assert.That((disk.Bytes[0], disk.Bytes[2], disk.FlushCount), Is.EqualTo(((byte)1, (byte)3, 2)), "the write, its close's flush and the one on closing the images");
        });
    }
}
