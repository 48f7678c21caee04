using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Backing;

/// <summary>
/// Images opened with one <see cref="BackingLayerPool"/> (as a mount opens its images) share their backing layers:
/// one read-only open per file, reference counted, closed with the last image that uses it.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
public sealed class BackingLayerPoolTests
{
    private const long Size = 4L << 20;

    [Test]
    public void Open_TwoOverlaysOfOneChain_EachLayerOpenedOnceAndBothReadLikeQemu()
    {
        using var dir = new TempDir("pool");
        (string a, string b) = TwoOverlaysOfMidOverRawBase(dir);
        var pool = new BackingLayerPool();
        var options = new ImageOpenOptions { BackingLayers = pool };

        using (Qcow2Image first = Qcow2Image.Open(a, options))
        using (Qcow2Image second = Qcow2Image.Open(b, options))
        {
            Assert.Multiple(() =>
            {
                Assert.That(pool.TotalOpens, Is.EqualTo(2), "mid.qcow2 and base.raw, once each");
                Assert.That(pool.OpenLayers, Is.EqualTo(2));
                Assert.That(pool.UsersOf(dir.File("mid.qcow2"), "qcow2"), Is.EqualTo(2), "both overlays use mid.qcow2");
                Assert.That(pool.UsersOf(dir.File("base.raw"), "raw"), Is.EqualTo(1), "only mid.qcow2 uses base.raw");
                Assert.That(DiskContent.DescribeDifference(first, Oracle(dir, a)), Is.Empty, "a.qcow2");
                Assert.That(DiskContent.DescribeDifference(second, Oracle(dir, b)), Is.Empty, "b.qcow2");
            });

            // Writes into one overlay COW from the shared layer and never reach it.
            var data = new byte[3000];
            new Random(3).NextBytes(data);
            first.Write(70_000, data);
            second.Write(70_001, data);
            second.Flush();
            first.Dispose();
            Assert.Multiple(() =>
            {
                Assert.That(pool.OpenLayers, Is.EqualTo(2), "b.qcow2 still uses the chain");
                Assert.That(pool.UsersOf(dir.File("mid.qcow2"), "qcow2"), Is.EqualTo(1));
                Assert.That(DiskContent.DescribeDifference(second, Oracle(dir, b)), Is.Empty, "b.qcow2 after a.qcow2 closed");
            });
        }

        Assert.Multiple(() =>
        {
            Assert.That(pool.OpenLayers, Is.Zero, "the last user closed every layer");
            Assert.That(pool.TotalOpens, Is.EqualTo(2));
            Assert.That(QemuTools.Check(a).IsClean && QemuTools.Check(b).IsClean, Is.True, "qemu-img check of both overlays");
        });

        // Every layer lock is gone with the layers: a writer can open the shared middle layer now.
        QemuTools.QemuIo(dir.File("mid.qcow2"), "write -P 0x44 0 512");
    }

    [Test]
    public void Open_SameOverlayTwiceReadOnly_SharesItsChainAndReadsLikeQemu()
    {
        using var dir = new TempDir("pool-twice");
        (string a, _) = TwoOverlaysOfMidOverRawBase(dir);
        var pool = new BackingLayerPool();
        var options = new ImageOpenOptions { ReadOnly = true, BackingLayers = pool };

        using Qcow2Image first = Qcow2Image.Open(a, options);
        using Qcow2Image second = Qcow2Image.Open(a, options);

        Assert.Multiple(() =>
        {
            Assert.That(pool.TotalOpens, Is.EqualTo(2));
            Assert.That(DiskContent.DescribeDifference(second, Oracle(dir, a)), Is.Empty);
        });
    }

    [Test]
    public void Open_ImageThatASharedLayerAlreadyReaches_FailsAsALoopAndReleasesTheLease()
    {
        using var dir = new TempDir("pool-loop");
        string baseImage = dir.File("base.qcow2");
        string mid = dir.File("mid.qcow2");
        string other = dir.File("other.qcow2");
        QemuTools.Create(baseImage, Size);
        QemuTools.CreateOverlay(mid, baseImage, "qcow2");
        QemuTools.CreateOverlay(other, mid, "qcow2");
        string looped = dir.File("base-looped.qcow2");
        File.Copy(baseImage, looped);
        QemuTools.QemuImg("rebase", "-u", "-f", "qcow2", "-b", mid, "-F", "qcow2", looped);
        var pool = new BackingLayerPool();
        var options = new ImageOpenOptions { ReadOnly = true, BackingLayers = pool };

        using Qcow2Image holder = Qcow2Image.Open(other, options);
        // base.qcow2 now names mid.qcow2, whose shared chain (opened before) reaches base.qcow2: base → mid → base.
        File.WriteAllBytes(baseImage, File.ReadAllBytes(looped));
        var e = Assert.Throws<BackingChainException>(() => Qcow2Image.Open(baseImage, options).Dispose());

        Assert.Multiple(() =>
        {
            Assert.That(e!.Message, Does.Contain("loops back"));
            Assert.That(pool.UsersOf(mid, "qcow2"), Is.EqualTo(1), "the failed open gave its lease back");
        });
    }

    /// <summary>base.raw ← mid.qcow2 ← {a.qcow2, b.qcow2}, every layer partly written by qemu-io.</summary>
    private static (string A, string B) TwoOverlaysOfMidOverRawBase(TempDir dir)
    {
        string baseRaw = PatternFile.FilledRaw(dir.File("base.raw"), Size, seed: 41);
        string mid = dir.File("mid.qcow2");
        QemuTools.CreateOverlay(mid, baseRaw, "raw", options: new Dictionary<string, string> { ["extended_l2"] = "on" });
        QemuTools.QemuIo(mid, "write -P 0x21 64k 200k", "write -z 1M 64k");
        string a = dir.File("a.qcow2");
        string b = dir.File("b.qcow2");
        QemuTools.CreateOverlay(a, mid, "qcow2", options: new Dictionary<string, string> { ["extended_l2"] = "on" });
        QemuTools.CreateOverlay(b, mid, "qcow2", Size + (1L << 20));
        QemuTools.QemuIo(a, "write -P 0x31 100k 5k");
        QemuTools.QemuIo(b, "write -P 0x32 1000k 100k");
        return (a, b);
    }

    private static string Oracle(TempDir dir, string image)
    {
        string raw = dir.File(Path.GetFileName(image) + "." + Guid.NewGuid().ToString("N")[..6] + ".raw");
        QemuTools.QemuImg("convert", "-U", "-f", "qcow2", "-O", "raw", image, raw);
        return raw;
    }
}
