using Qcow2Mount.Core.Qcow2.Metadata;
using Qcow2Mount.Core.Storage;
using Qcow2Mount.TestSupport;
using Qcow2Mount.TestSupport.Crash;

namespace Qcow2Mount.Core.Tests.Qcow2.Metadata;

[TestFixture]
[Category(TestCategories.Unit)]
public sealed class MetadataCacheTests
{
    private const int EntrySize = 512;

    private static (MetadataCache Cache, MemoryBlockDevice File) Make(int entries)
    {
        var file = new MemoryBlockDevice(new byte[EntrySize * 16]);
        return (new MetadataCache("test", file, EntrySize, (long)entries * EntrySize), file);
    }

    [Test]
    public void Get_BeyondCapacity_EvictsLeastRecentlyUsed()
    {
        var (cache, _) = Make(entries: 3);
        cache.Get(0);
        cache.Get(512);
        cache.Get(1024);
        cache.Get(0); // 512 is now the least recently used
        cache.Get(1536);
        Assert.Multiple(() =>
        {
            Assert.That(cache.Contains(0), Is.True);
            Assert.That(cache.Contains(512), Is.False);
            Assert.That(cache.Contains(1024), Is.True);
            Assert.That(cache.Contains(1536), Is.True);
            Assert.That(cache.Count, Is.EqualTo(3));
        });
    }

    [Test]
    public void Evict_DirtyEntry_WrittenBackAfterPrerequisite()
    {
        var (cache, file) = Make(entries: 2);
        var order = new List<string>();
        cache.WriteBackPrerequisite = () => order.Add("prerequisite");
        var data = cache.Get(512);
        data[0] = 0x42;
        cache.MarkDirty(512);
        cache.Get(0);
        Assert.That(file.ToArray()[512], Is.Zero, "not written while cached");
        cache.Get(1024); // evicts 512
        Assert.Multiple(() =>
        {
            Assert.That(file.ToArray()[512], Is.EqualTo(0x42));
            Assert.That(order, Is.EqualTo(new[] { "prerequisite" }));
            Assert.That(cache.DirtyCount, Is.Zero);
        });
    }

    [Test]
    public void Evict_EveryEntryDirty_PrerequisiteOncePerBatchColdestWrittenFirst()
    {
        // 16 entries: a dirty eviction writes back 2. Fill with dirty entries, then miss 16 times.
        var file = new MemoryBlockDevice(new byte[EntrySize * 64]);
        var cache = new MetadataCache("test", file, EntrySize, 16L * EntrySize);
        int prerequisites = 0;
        cache.WriteBackPrerequisite = () => prerequisites++;
        for (int i = 0; i < 16; i++)
        {
            cache.Get(i * EntrySize)[0] = (byte)(i + 1);
            cache.MarkDirty(i * EntrySize);
        }

        int before = file.WriteCount;
        cache.Get(16 * EntrySize); // evicts entry 0, writes back 0 and 1
        var afterFirst = (Writes: file.WriteCount - before, Dirty: cache.DirtyCount, HasOne: cache.Contains(EntrySize));
        for (int i = 17; i < 32; i++)
        {
            cache.Get(i * EntrySize);
        }

        Assert.Multiple(() =>
        {
            Assert.That(cache.EvictionBatch, Is.EqualTo(2));
            Assert.That(afterFirst, Is.EqualTo((2, 14, true)), "one eviction: the two coldest written back, the second kept (clean)");
            Assert.That(prerequisites, Is.EqualTo(8), "16 dirty evictions in batches of 2");
            Assert.That(file.WriteCount - before, Is.EqualTo(16), "each dirty entry written once");
            Assert.That(Enumerable.Range(0, 16).Select(i => file.ToArray()[i * EntrySize]), Is.EqualTo(Enumerable.Range(1, 16).Select(i => (byte)i)));
            Assert.That(cache.DirtyCount, Is.Zero);
        });
    }

    [Test]
    public void WriteDirty_TwoSmallChangesInLargeEntry_WritesOnlyThePagesBetweenThem()
    {
        // 16 KiB entries: changes at 5000 and 12000 are written back as the pages [4096, 12288), not the whole entry.
        const int Large = 16384;
        using var dir = new TempDir("cache-pages");
        File.WriteAllBytes(dir.File("initial"), new byte[Large * 2]);
        var log = new StorageLog();
        int id = log.AddFile(dir.File("initial"));
        var file = log.Wrap(id, new MemoryBlockDevice(new byte[Large * 2]));
        var cache = new MetadataCache("test", file, Large, 4L * Large);
        var data = cache.Get(Large);
        data[5000] = 1;
        cache.MarkDirty(Large, 5000, 8);
        data[12000] = 2;
        cache.MarkDirty(Large, 12000, 8);
        var fresh = cache.GetNew(0);
        fresh[100] = 3;
        cache.WriteDirty();
        var writes = log.Operations.Where(o => o.Kind == StorageOperationKind.Write).Select(o => (o.Offset, o.Length)).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(writes, Is.EquivalentTo(new[] { (0L, (long)Large), (Large + 4096L, 8192L) }), "a new entry whole, a read one from its first to its last changed page");
            Assert.That(cache.DirtyCount, Is.Zero);
            var back = new byte[Large];
            file.Read(Large, back);
            Assert.That((back[5000], back[12000]), Is.EqualTo(((byte)1, (byte)2)));
        });
    }

    [Test]
    public void WriteDirty_WritesEveryDirtyEntryOnce_AndCleanEntriesNot()
    {
        var (cache, file) = Make(entries: 8);
        cache.Get(0)[1] = 1;
        cache.MarkDirty(0);
        cache.GetNew(1024)[2] = 2;
        cache.Get(2048);
        int before = file.WriteCount;
        cache.WriteDirty();
        cache.WriteDirty();
        Assert.Multiple(() =>
        {
            Assert.That(file.WriteCount - before, Is.EqualTo(2));
            Assert.That(file.ToArray()[1], Is.EqualTo(1));
            Assert.That(file.ToArray()[1024 + 2], Is.EqualTo(2));
        });
    }

    [Test]
    public void DropIdle_KeepsDirtyEntries()
    {
        var (cache, _) = Make(entries: 8);
        cache.Get(0);
        cache.Get(512);
        cache.MarkDirty(512);
        int dropped = cache.DropIdle(idleMilliseconds: 0);
        Assert.Multiple(() =>
        {
            Assert.That(dropped, Is.EqualTo(1));
            Assert.That(cache.Contains(0), Is.False);
            Assert.That(cache.Contains(512), Is.True);
        });
    }
}
