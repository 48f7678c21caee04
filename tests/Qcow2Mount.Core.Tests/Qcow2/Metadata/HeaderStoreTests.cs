using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.TestSupport;

namespace Qcow2Mount.Core.Tests.Qcow2.Metadata;

/// <summary>The one place a header is written: its order rules, and the header it keeps being the one on disk.</summary>
[TestFixture]
[Parallelizable(ParallelScope.All)]
[Category(TestCategories.Qemu)]
public sealed class HeaderStoreTests
{
    [Test]
    public void Commit_HeaderNamingAnotherTable_SyncsEarlierWritesFirstAndItselfAfter()
    {
        using var dir = new TempDir("header-store");
        using var device = OpenImage(dir, "lazy_refcounts=off");
        var header = HeaderStore.Read(device);
        var file = new SyncTrackingBlockDevice(device);
        var store = new HeaderStore(file, header, readOnly: false);
        file.Write(1 << 20, new byte[512]); // unsynced data the new table relies on
        device.Clear();
        store.Commit(header with { L1TableOffset = header.L1TableOffset + 0x10000 });
        Assert.That(device.Log, Is.EqualTo(new[] { "flush", "write 0x0", "flush" }));
    }

    [Test]
    public void Commit_FeatureBitOnly_WrittenAndSyncedWithoutSyncingEarlierWrites()
    {
        using var dir = new TempDir("header-store");
        using var device = OpenImage(dir, "lazy_refcounts=off");
        var header = HeaderStore.Read(device);
        var file = new SyncTrackingBlockDevice(device);
        var store = new HeaderStore(file, header, readOnly: false);
        file.Write(1 << 20, new byte[512]);
        device.Clear();
        store.Commit(header.WithIncompatible(FeatureBits.IncompatibleDirty, set: true));
        Assert.That(device.Log, Is.EqualTo(new[] { "write 0x0", "flush" }));
    }

    [Test]
    public void Commit_Header_CurrentIsWhatTheFileNowHolds()
    {
        using var dir = new TempDir("header-store");
        using var device = OpenImage(dir, "lazy_refcounts=off");
        var header = HeaderStore.Read(device);
        var store = Store(device, header);
        store.Commit(header with { Size = header.Size * 2 });
        var onDisk = HeaderStore.Read(device);
        Assert.Multiple(() =>
        {
            Assert.That(store.Current.Size, Is.EqualTo(header.Size * 2));
            Assert.That(onDisk.Size, Is.EqualTo(header.Size * 2));
            Assert.That(store.Current.HeaderLength, Is.EqualTo(onDisk.HeaderLength));
            Assert.That(header.Size, Is.EqualTo(1L << 20), "the old value is unchanged: headers are immutable");
        });
    }

    [Test]
    public void BeforeMetadataChange_LazyRefcounts_SetsTheDirtyBitOnceThenClearDirtyBitRemovesIt()
    {
        using var dir = new TempDir("header-store");
        using var device = OpenImage(dir, "lazy_refcounts=on");
        var store = Store(device, HeaderStore.Read(device));
        store.BeforeMetadataChange();
        store.BeforeMetadataChange();
        var dirty = HeaderStore.Read(device);
        int writes = device.Log.Count(e => e == "write 0x0");
        store.ClearDirtyBit();
        Assert.Multiple(() =>
        {
            Assert.That(dirty.IsDirty, Is.True, "dirty on disk before the first metadata change");
            Assert.That(writes, Is.EqualTo(1), "set once per session");
            Assert.That(HeaderStore.Read(device).IsDirty, Is.False);
        });
    }

    [Test]
    public void MarkCorrupt_SetsTheCorruptBitAndTurnsReadOnly()
    {
        using var dir = new TempDir("header-store");
        using var device = OpenImage(dir, "lazy_refcounts=off");
        var store = Store(device, HeaderStore.Read(device));
        store.MarkCorrupt();
        Assert.Multiple(() =>
        {
            Assert.That(HeaderStore.Read(device).IsCorrupt, Is.True);
            Assert.That(store.IsReadOnly, Is.True);
            Assert.That(() => store.RefuseWritingIfCorrupt("t"), Throws.Nothing, "already read-only: nothing left to refuse");
        });
    }

    private static RecordingBlockDevice OpenImage(TempDir dir, string options)
    {
        string image = dir.File("disk.qcow2");
        QemuTools.Create(image, 1L << 20, options.Split(',').Select(o => o.Split('=')).ToDictionary(o => o[0], o => o[1]));
        return new RecordingBlockDevice(FileBlockDevice.Open(image, readOnly: false));
    }

    private static HeaderStore Store(RecordingBlockDevice device, Qcow2Header header) =>
        new(new SyncTrackingBlockDevice(device), header, readOnly: false);
}
