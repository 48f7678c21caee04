namespace Qcow2Mount.Core;

/// <summary>
/// The seam the platform shims drive: a virtual disk addressed by guest byte offset.
/// Implementations are thread-safe; every member may be called concurrently.
/// Errors are thrown as exceptions from <see cref="Errors"/>; only the shims map them to errno/NTSTATUS.
/// </summary>
public interface IVirtualDisk : IDisposable
{
    /// <summary>Virtual disk size in bytes.</summary>
    long Length { get; }

    /// <summary>True when writes, zero-writes and discards are refused.</summary>
    bool IsReadOnly { get; }

    /// <summary>Reads up to <c>buffer.Length</c> bytes at <paramref name="offset"/>; returns the count (short only at the end of the disk).</summary>
    int Read(long offset, Span<byte> buffer);

    /// <summary>Writes all of <paramref name="data"/> at <paramref name="offset"/>; the range must lie inside the disk.</summary>
    void Write(long offset, ReadOnlySpan<byte> data);

    /// <summary>Makes the range read as zeros. With <paramref name="mayUnmap"/> whole clusters may be deallocated (punch hole).</summary>
    void WriteZeroes(long offset, long length, bool mayUnmap);

    /// <summary>Guest discard (TRIM): after it the range reads as zeros; unaligned parts are zero-written.</summary>
    void Discard(long offset, long length);

    /// <summary>Makes everything written so far durable: metadata in crash-safe order, then the file to stable storage.</summary>
    void Flush();

    /// <summary>
    /// Status of the run starting at <paramref name="offset"/>, at most <paramref name="maxLength"/> bytes long (never
    /// empty inside the disk): the one status query, for SEEK_DATA/SEEK_HOLE, convert and every qemu-img-style map.
    /// </summary>
    BlockStatus GetBlockStatus(long offset, long maxLength);
}

/// <summary>What a run of guest bytes is, for SEEK_DATA/SEEK_HOLE and <c>map</c> (qemu-img map's flags, and where the run is decided).</summary>
[Flags]
public enum BlockStatusFlags
{
    None = 0,

    /// <summary>The run reads as zeros (a hole for SEEK_HOLE).</summary>
    Zero = 1,

    /// <summary>The disk asked decides the run itself (its own data or zeros), not a backing layer below it.</summary>
    Allocated = 2,

    /// <summary>The run has data somewhere in the chain (not known to be zero).</summary>
    Data = 4,

    /// <summary>Some layer of the chain decides the run (qemu-img map's "present"); false where no layer allocates it.</summary>
    Present = 8,

    /// <summary>A raw layer decides the run: only its host file knows its holes (callers refine Data with SEEK_DATA/SEEK_HOLE).</summary>
    RawLayer = 16,
}

/// <summary>
/// A run of guest bytes with one status. <see cref="Depth"/> is the layer of the chain that decides it (0 = the disk
/// asked); <see cref="HostOffset"/> is where the run starts in that layer's file when it has a single host location
/// (data, and preallocated zero or unallocated clusters), else -1.
/// </summary>
public readonly record struct BlockStatus(long Length, BlockStatusFlags Flags, int Depth = 0, long HostOffset = -1)
{
    public bool IsZero => (Flags & BlockStatusFlags.Zero) != 0;

    public bool IsData => (Flags & BlockStatusFlags.Data) != 0;

    public bool IsPresent => (Flags & BlockStatusFlags.Present) != 0;

    public bool IsRawLayer => (Flags & BlockStatusFlags.RawLayer) != 0;
}
