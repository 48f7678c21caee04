using Qcow2Mount.Core.Errors;
using Qcow2Mount.Core.Qcow2.Format;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Qcow2.Metadata;

/// <summary>
/// Cluster 0 of an image (spec §2, §3, §13): reading the header, and the one place a header is written back. An open
/// image keeps its current header here (an immutable value; a change is a new header) together with what the header
/// bits say about using it: the dirty bit this session set (lazy refcounts), the corrupt bit, read-only.
/// Ordering rules enforced here:
/// <list type="bullet">
/// <item>The header is last in the order data → refcount blocks → L2 → L1 → header: a header that names other
/// structures or another size (L1 table, refcount table, virtual size) is written only once everything written before
/// it is stable (the file is synced first when anything is unsynced).</item>
/// <item>Every header write is synced before <see cref="Commit"/> returns: the dirty bit is on disk before the first
/// metadata change, the corrupt bit before the image turns read-only.</item>
/// </list>
/// Caller holds the image's metadata lock for every change.
/// </summary>
internal sealed class HeaderStore
{
    private readonly SyncTrackingBlockDevice _file;
    private volatile bool _readOnly;

    /// <summary>True once this session set the dirty bit on disk (lazy refcounts only); a clean close clears it.</summary>
    private bool _dirtyBitSet;

    public HeaderStore(SyncTrackingBlockDevice file, Qcow2Header header, bool readOnly)
    {
        _file = file;
        Current = header;
        _readOnly = readOnly;
    }

    /// <summary>The header as it is on disk (or as opened, before the first write).</summary>
    public Qcow2Header Current { get; private set; }

    /// <summary>Opened read-only, turned read-only by corruption, or closed for writing after a resize.</summary>
    public bool IsReadOnly => _readOnly;

    /// <summary>Reads and parses cluster 0 of <paramref name="file"/>.</summary>
    public static Qcow2Header Read(IBlockDevice file)
    {
        var start = new byte[Math.Min(file.Length, 512)];
        file.Read(0, start);
        int clusterBits = Qcow2Header.PeekClusterBits(start, file.Name);
        var cluster0 = new byte[Math.Min(file.Length, 1L << clusterBits)];
        file.Read(0, cluster0);
        return Qcow2Header.Parse(cluster0, file.Name);
    }

    /// <summary>
    /// Rewrites cluster 0 of an image no engine has open (create, check, repair) in one write and flushes; the caller
    /// has made everything the header names stable first.
    /// </summary>
    public static Qcow2Header Write(IBlockDevice file, Qcow2Header header)
    {
        var written = WriteCluster0(file, header);
        file.Flush();
        return written;
    }

    public void MakeReadOnly() => _readOnly = true;

    /// <summary>Writes <paramref name="next"/> as the image's header (see the ordering rules above).</summary>
    public void Commit(Qcow2Header next)
    {
        if (NamesOtherStructures(Current, next))
        {
            _file.FlushIfUnsynced();
        }

        Current = WriteCluster0(_file, next);
        _file.Flush();
    }

    /// <summary>A read-write open of a corrupt image is refused (repair it first), as QEMU does.</summary>
    public void RefuseWritingIfCorrupt(string name)
    {
        if (!_readOnly && Current.IsCorrupt)
        {
            throw new ImageFormatException($"{name}: image is marked corrupt; it can only be opened read-only (repair it with 'qemu-img check -r all')");
        }
    }

    /// <summary>
    /// Spec: a writer clears the autoclear bits it does not maintain before changing the image; the bitmaps bit is
    /// kept when <paramref name="bitmapsMaintained"/> (the persistent bitmaps are kept up to date).
    /// </summary>
    public void ClearUnmaintainedAutoclearBits(bool bitmapsMaintained)
    {
        ulong kept = FeatureBits.AutoclearKeptOnWrite | (bitmapsMaintained ? FeatureBits.AutoclearBitmaps : 0);
        ulong autoclear = Current.AutoclearFeatures & kept;
        if (!_readOnly && autoclear != Current.AutoclearFeatures)
        {
            Commit(Current with { AutoclearFeatures = autoclear });
        }
    }

    /// <summary>
    /// Runs before the first change of any metadata (L2 entries, new L2 tables and L1 entries, refcounts, resizes).
    /// With lazy refcounts (compatible bit 0) the dirty bit is written and synced here, so a crash leaves an image
    /// whose refcounts are rebuilt before its next read-write use. Without lazy refcounts the write order alone keeps
    /// refcounts safe (too high at worst) and no dirty bit is used.
    /// </summary>
    public void BeforeMetadataChange()
    {
        if (_dirtyBitSet || !Current.HasLazyRefcounts || Current.Version < 3 || _readOnly)
        {
            return;
        }

        Commit(Current.WithIncompatible(FeatureBits.IncompatibleDirty, set: true));
        _dirtyBitSet = true;
    }

    /// <summary>
    /// The end of a clean close (lazy refcounts): every cache is written back and the file is stable (caller flushed),
    /// so the refcounts on disk are exact and the dirty bit this session set can go.
    /// </summary>
    public void ClearDirtyBit()
    {
        if (_dirtyBitSet && !_readOnly)
        {
            Commit(Current.WithIncompatible(FeatureBits.IncompatibleDirty, set: false));
            _dirtyBitSet = false;
        }
    }

    /// <summary>Inconsistent metadata met while writing: set the corrupt bit and stop writing, as QEMU does.</summary>
    public void MarkCorrupt()
    {
        if (_readOnly)
        {
            return;
        }

        try
        {
            Commit(Current.WithIncompatible(FeatureBits.IncompatibleCorrupt, set: true));
        }
        finally
        {
            _readOnly = true;
        }
    }

    private static bool NamesOtherStructures(Qcow2Header a, Qcow2Header b) =>
        a.L1TableOffset != b.L1TableOffset || a.L1Size != b.L1Size || a.Size != b.Size
        || a.RefcountTableOffset != b.RefcountTableOffset || a.RefcountTableClusters != b.RefcountTableClusters;

    /// <summary>Cluster 0 in one write (header, extensions, backing name): the header as written.</summary>
    private static Qcow2Header WriteCluster0(IBlockDevice file, Qcow2Header header)
    {
        var cluster = new byte[header.ClusterSize];
        var written = header.Serialize(cluster);
        file.Write(0, cluster);
        return written;
    }
}
