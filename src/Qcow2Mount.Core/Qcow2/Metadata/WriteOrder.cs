using Qcow2Mount.Core.Qcow2.Allocation;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2.Metadata;

/// <summary>
/// The crash-safe write order of an open image, in one place (spec §14 rules 4 and 6): data and COW bytes →
/// refcount blocks → refcount table entries of new blocks → L2 tables → L1 entries and header; and backwards for
/// freeing: every reference removal is stable before a refcount drops. Wired here: the L2 cache runs
/// <see cref="MakeDataAndRefcountsStable"/> before it writes back any slice (flush or eviction), and the refcount
/// manager runs <see cref="MakeReferencesStable"/> before it applies deferred decrements. The image file is a
/// <see cref="SyncTrackingBlockDevice"/>, so "stable" is asked of the file rather than remembered by each writer.
/// Metadata lock held for everything but <see cref="NoteDataWritten"/> (and the sync that ends a flush, see
/// <see cref="WriteBackAll"/>).
/// </summary>
internal sealed class WriteOrder
{
    private readonly SyncTrackingBlockDevice _file;
    private readonly IBlockDevice? _externalData;
    private readonly RefcountManager _refcounts;
    private readonly MetadataCache _l2Cache;
    private int _dataWritten;

    /// <param name="externalData">The external data file; null when guest data lives in <paramref name="file"/>.</param>
    public WriteOrder(SyncTrackingBlockDevice file, IBlockDevice? externalData, RefcountManager refcounts, MetadataCache l2Cache)
    {
        _file = file;
        _externalData = externalData;
        _refcounts = refcounts;
        _l2Cache = l2Cache;

        // Rule: an L2 entry reaches disk only after the data it maps and the refcounts of its clusters are stable.
        l2Cache.WriteBackPrerequisite = MakeDataAndRefcountsStable;

        // Rule: a refcount drops only after the change that removed the reference is stable.
        refcounts.BeforeDecrements = MakeReferencesStable;
    }

    /// <summary>Dirty refcount blocks or L2 slices, new refcount table entries or deferred decrements: a flush writes something.</summary>
    private bool HasMetadataToWrite =>
        _refcounts.Blocks.DirtyCount > 0 || _refcounts.HasUnwrittenTableEntries || _l2Cache.DirtyCount > 0 || _refcounts.DeferredFreeCount > 0;

    /// <summary>Guest or COW bytes went to the data file since the last flush (any thread, no lock).</summary>
    public void NoteDataWritten() => Volatile.Write(ref _dataWritten, 1);

    /// <summary>
    /// Data and COW bytes stable, then refcount blocks, then the refcount table entries of new blocks: what must be
    /// on disk before an L2 entry (or L1 entry, or header) may name a new cluster.
    /// </summary>
    public void MakeDataAndRefcountsStable() => MakeDataAndRefcountsStable(withEarlierWrites: false);

    /// <summary>
    /// As <see cref="MakeDataAndRefcountsStable()"/>; with <paramref name="withEarlierWrites"/> everything written to
    /// the image file before the call is stable too (a new L2 table before the L1 entry that names it), in the same sync.
    /// Data and refcount blocks need no order between each other (each only has to precede the references to it), so the
    /// dirty blocks are written first and one sync of the image file covers both; an external data file gets its own.
    /// Two syncs (data, then blocks) per eviction of a dirty L2 slice were most of workload 7's fsyncs.
    /// </summary>
    public void MakeDataAndRefcountsStable(bool withEarlierWrites)
    {
        // First, so the sync below covers it: no L2 entry written after it may name a cluster past the end of the file.
        // A block that reaches disk without the length only counts clusters past the end, which nothing names yet
        // (qemu-img check ignores them; the allocator skips them).
        _refcounts.GrowFileToAllocated();
        bool data = Interlocked.Exchange(ref _dataWritten, 0) != 0;
        bool blocks = _refcounts.Blocks.DirtyCount > 0;
        if (blocks)
        {
            _refcounts.Blocks.WriteDirty();
        }

        if (data && _externalData is not null)
        {
            _externalData.Flush();
        }

        if (blocks || (data && _externalData is null) || (withEarlierWrites && _file.HasUnsyncedChanges))
        {
            _file.Flush();
        }

        if (_refcounts.HasUnwrittenTableEntries)
        {
            // New refcount blocks are stable now; only then may the table name them.
            _refcounts.WriteUnwrittenTableEntries();
            _file.Flush();
        }
    }

    /// <summary>
    /// Freeing runs backwards (the refcount manager's prerequisite for every decrement): the L2 cache is written back
    /// and the file synced, so the L2 entries, L1 entries and header fields that stopped naming a cluster are stable
    /// before its refcount drops. Otherwise a crash could keep the old pointer with the lower count, and the next
    /// write would free and reuse a cluster that is still in use (a snapshot's L2 table or data).
    /// </summary>
    public void MakeReferencesStable()
    {
        _l2Cache.WriteDirty();
        _file.FlushIfUnsynced();
    }

    /// <summary>
    /// Flush in dependency order: <see cref="WriteBackAll"/>, then (5) a sync of whatever is still unsynced (slices
    /// written back by an eviction, L1 entries), so nothing written before the call is lost.
    /// </summary>
    public void FlushAll()
    {
        WriteBackAll();
        _file.FlushIfUnsynced();
    }

    /// <summary>
    /// All of a flush but its last sync: (1) data and COW bytes to stable storage, (2) refcount blocks, then stable,
    /// (2b) refcount table entries of new blocks, then stable, (3) L2 slices, (4) deferred refcount decrements, whose
    /// prerequisite syncs every reference removal first, and the refcount blocks they changed. What it leaves unsynced
    /// has nothing ordered after it, so the caller may sync it after releasing the metadata lock (a group commit:
    /// writes land while that sync runs, and flushes that begin meanwhile share it).
    /// </summary>
    public void WriteBackAll()
    {
        if (_externalData is null && !HasMetadataToWrite)
        {
            // Nothing is written after the data, so nothing waits for its sync here: the caller's last sync covers
            // it (writes in place into allocated clusters, then fsync: one sync, outside the lock). The data flag
            // stays set: it is cleared only by a sync made under the lock, before any L2 entry that may name the data.
            _refcounts.GrowFileToAllocated();
            return;
        }

        MakeDataAndRefcountsStable();
        _l2Cache.WriteDirty();
        if (_refcounts.DeferredFreeCount > 0)
        {
            _refcounts.ApplyDeferredFrees();
            _refcounts.Blocks.WriteDirty();
        }
    }
}
