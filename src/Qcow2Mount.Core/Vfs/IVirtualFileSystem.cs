namespace Qcow2Mount.Core.Vfs;

/// <summary>
/// What the platform shims drive: a root directory holding one fixed-size raw file per image, and every rule those
/// files follow on every platform — fixed size, reads clipped at the end, the read-only policy, zero and punch-hole
/// requests, the data/hole search, times, allocated size, capacity, permissions, names. A shim decodes its protocol
/// into these calls and turns what they throw into its codes through one table (FUSE: ErrnoMap, WinFsp: NtStatusMap);
/// the refusals are the typed <see cref="Errors.VfsException"/>s, I/O failures the engine's own exceptions.
/// Thread-safe: every member may be called from any number of shim threads.
/// </summary>
public interface IVirtualFileSystem : IDisposable
{
    /// <summary>True when the mount refuses every change (asked for, or an image was opened read-only).</summary>
    bool IsReadOnly { get; }

    /// <summary>False where names are compared ignoring case (Windows): then no two raw names differ only in case.</summary>
    bool CaseSensitiveNames { get; }

    RootDirectory Root { get; }

    /// <summary>The raw files in image order.</summary>
    IReadOnlyList<RawFile> Files { get; }

    VolumeCapacity Capacity { get; }

    /// <summary>The raw file called <paramref name="name"/> (one path component), or null.</summary>
    RawFile? Find(string name);

    NodeInfo GetInfo(VfsNode node);

    /// <summary>
    /// What the image really takes on its host file system: the allocated bytes of its host files (st_blocks), so du
    /// of a sparse image shows its use, not its virtual size; the virtual size where that cannot be asked.
    /// </summary>
    long AllocatedBytes(RawFile file);

    /// <summary>The files in <paramref name="node"/>; only the root is a directory.</summary>
    IReadOnlyList<RawFile> List(VfsNode node);

    /// <summary>Checks that <paramref name="node"/> may be opened as asked; throws the refusal.</summary>
    void Open(VfsNode node, OpenRequest request);

    /// <summary>
    /// Reads at <paramref name="offset"/>; the count is short only at the end of the disk (page caches rely on it),
    /// and 0 only at or past the end (or for an empty buffer).
    /// </summary>
    int Read(RawFile file, Span<byte> buffer, long offset);

    /// <summary>Writes at <paramref name="offset"/>; <paramref name="pastEnd"/> says what happens to bytes past the end. Returns the count written.</summary>
    int Write(RawFile file, ReadOnlySpan<byte> data, long offset, WritePastEnd pastEnd);

    /// <summary>Zeroes, punches or reserves a range (fallocate).</summary>
    void Allocate(RawFile file, SpaceRequest request);

    /// <summary>
    /// The first offset at or after <paramref name="offset"/> that is data or a hole, from the disk's block status (a
    /// run that reads as zeros is a hole; the end of the disk is an implicit hole); null when there is none — also
    /// for an offset at or past the end.
    /// </summary>
    long? Seek(RawFile file, long offset, SeekTarget target);

    /// <summary>Truncate / set the size: only to the size the file has.</summary>
    void SetSize(VfsNode node, long size);

    /// <summary>Windows' allocation size: the allocation follows the data, so it succeeds without effect unless it would cut the file.</summary>
    void SetAllocationSize(RawFile file, long size);

    /// <summary>Times a user sets; kept for the life of the mount, never written to the image file.</summary>
    void SetTimes(VfsNode node, TimesUpdate update);

    /// <summary>The platform reports I/O through a node: the named times become now (in memory, so a read-only mount allows it).</summary>
    void Touch(VfsNode node, TimeFields fields);

    /// <summary>
    /// The refusal (to throw) of a change of the mount's names or attributes, which are fixed: read-only on a read-only
    /// mount, else <see cref="Errors.ChangeRefusedException"/>. <paramref name="target"/> is the existing node the change names, if any.
    /// </summary>
    Errors.VfsException RefusalOf(ChangeKind change, VfsNode? target = null);

    /// <summary>Makes what was written to the file durable (fsync); nothing to do on a read-only mount.</summary>
    void Flush(RawFile file);

    /// <summary>Flushes every writable disk; all are tried, and the first failure is thrown after the last.</summary>
    void FlushAll();

    /// <summary>
    /// The end of a mount: flushes every writable disk (logging a failure with the image's name), then disposes the
    /// disks, which releases their locks. False when a flush failed.
    /// </summary>
    bool Close(Action<string> log);
}
