namespace Qcow2Mount.Core;

/// <summary>How an image (and its backing chain) is opened.</summary>
public sealed record ImageOpenOptions
{
    /// <summary>Open read-only: nothing is ever written to any file.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>Metadata cache budget in bytes (L2 tables; refcount blocks get a quarter on top). 0 = default (32 MiB).</summary>
    public long CacheSize { get; init; }

    /// <summary>L2 cache entry size in bytes (a power of two from 512 to the cluster size). 0 = the cluster size.</summary>
    public int L2CacheEntrySize { get; init; }

    /// <summary>Seconds after which unused clean cache entries are dropped; 0 = never.</summary>
    public int CacheCleanIntervalSeconds { get; init; } = 600;

    /// <summary>Open the backing chain; when false, unallocated ranges read as zeros.</summary>
    public bool FollowBacking { get; init; } = true;

    /// <summary>Allow block and character devices as backing files (refused by default: a hostile image can name any path).</summary>
    public bool AllowBackingDevice { get; init; }

    /// <summary>Take QEMU-compatible OFD locks on the image files.</summary>
    public bool Lock { get; init; } = true;

    /// <summary>
    /// Backing layers shared between the images opened with these options (a mount passes one pool for all its
    /// images): each backing file is then opened once however many images use it. Null = every image opens its own.
    /// </summary>
    public Qcow2.BackingLayerPool? BackingLayers { get; init; }

    /// <summary>
    /// Open this internal snapshot of the image instead of the live disk: its L1 table and (unless the selector keeps
    /// the live size) its own virtual size, over the same backing chain. Requires <see cref="ReadOnly"/>; applies to the
    /// image itself, never to its backing files.
    /// </summary>
    public SnapshotSelector? Snapshot { get; init; }

    /// <summary>Receives verbose messages (which backing format was probed, repairs done on open, …).</summary>
    public Action<string>? Log { get; init; }
}
