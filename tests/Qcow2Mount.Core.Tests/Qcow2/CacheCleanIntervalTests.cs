using System.Diagnostics;
using Qcow2Mount.Core.Qcow2;
using Qcow2Mount.Core.Tests.Tools;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Qcow2;

/// <summary>cache-clean-interval (qemu-behaviour.md §8): clean entries idle for an interval are dropped on a timer; 0 = never.</summary>
[TestFixture]
[Category(TestCategories.Qemu)]
public sealed class CacheCleanIntervalTests
{
    private TempDir _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempDir("cacheclean");

    [TearDown]
    public void TearDown() => _dir.Dispose();

    [Test]
    public void Timer_OneSecondInterval_DropsIdleCleanEntries_ZeroIntervalKeepsThem()
    {
        string image = _dir.File("a.qcow2");
        // 4 KiB clusters: one L2 table maps 2 MiB, so reads 4 MiB apart each need their own cache entry.
        QemuTools.Create(image, "cluster_size=4096", 64 << 20);
        QemuTools.QemuIo(image, "write -P 1 0 4k", "write -P 2 16M 4k", "write -P 3 32M 4k", "write -P 4 48M 4k");
        using var cleaned = Qcow2Image.Open(image, new ImageOpenOptions { ReadOnly = true, CacheCleanIntervalSeconds = 1 });
        using var kept = Qcow2Image.Open(image, new ImageOpenOptions { ReadOnly = true, CacheCleanIntervalSeconds = 0 });
        var buffer = new byte[4096];
        foreach (var disk in new[] { cleaned, kept })
        {
            for (long offset = 0; offset < 64 << 20; offset += 4 << 20)
            {
                disk.Read(offset, buffer);
            }
        }

        int held = kept.L2Cache.Count;
        Assert.That(cleaned.L2Cache.Count, Is.EqualTo(held).And.GreaterThanOrEqualTo(4), "precondition: L2 slices cached");

        var clock = Stopwatch.StartNew();
        while (cleaned.L2Cache.Count > 0 && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.Sleep(100);
        }

        Assert.Multiple(() =>
        {
            Assert.That(cleaned.L2Cache.Count, Is.Zero, "idle entries dropped within 10 s at a 1 s interval");
            Assert.That(clock.Elapsed, Is.GreaterThan(TimeSpan.FromMilliseconds(500)), "not dropped before they were idle");
            Assert.That(kept.L2Cache.Count, Is.EqualTo(held), "interval 0 never drops");
        });
        cleaned.Read(16 << 20, buffer);
        Assert.That(buffer, Is.All.EqualTo(2), "a dropped entry is read again on demand");
    }

    [Test]
    public void Timer_DirtyEntries_SurviveUntilFlushed()
    {
        string image = _dir.File("b.qcow2");
        QemuTools.Create(image, "cluster_size=4096", 64 << 20);
        QemuTools.QemuIo(image, "write -P 5 16M 4k");
        using (var disk = Qcow2Image.Open(image, new ImageOpenOptions { CacheCleanIntervalSeconds = 1 }))
        {
            disk.Read(16 << 20, new byte[4096]);
            disk.Write(0, new byte[4096]);
            disk.Write(40 << 20, new byte[] { 7 });
            int dirty = disk.L2Cache.DirtyCount;
            Assert.That(dirty, Is.EqualTo(2), "precondition: the writes left two dirty L2 tables");
            Assert.That(disk.L2Cache.Count, Is.EqualTo(3), "precondition: and the read one clean table");
            disk.CleanCaches(0); // what the timer does, with every entry counted idle
            Assert.That(disk.L2Cache.DirtyCount, Is.EqualTo(dirty), "dirty entries are never dropped");
            Assert.That(disk.L2Cache.Count, Is.EqualTo(dirty), "clean ones are");
        }

        Assert.That(QemuTools.CheckJson(image).Code, Is.Zero);
        QemuTools.QemuIo(image, "read -P 7 40M 1", "read -P 5 16M 4k");
    }
}
