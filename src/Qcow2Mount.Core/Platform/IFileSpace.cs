using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Core.Platform;

/// <summary>
/// The host file system's space operations on image files: holes (punch, zero, sparse), data syncs, what a file occupies, and
/// where its data and holes are. Best effort throughout: where the host cannot answer, the answer is the plain one
/// (no hole, everything data, allocated = length) and the caller's result stays correct, only less sparse.
/// </summary>
internal interface IFileSpace
{
    /// <summary>Releases the storage of a range, which then reads as zeros; the length stays. False when not done.</summary>
    bool PunchHole(SafeFileHandle file, long offset, long length);

    /// <summary>
    /// Makes a range read as zeros without writing zeros, growing the file when the range ends past it. False when
    /// the host cannot (nothing changed); the caller then writes zeros itself.
    /// </summary>
    bool ZeroRange(SafeFileHandle file, long offset, long length);

    /// <summary>
    /// Drops all of the file's content and makes it <paramref name="length"/> bytes that read as zeros, for a copy
    /// about to write it through the same descriptor (the host must not take that for a truncate-and-rewrite it has to
    /// flush at the close: see the Linux implementation).
    /// </summary>
    void Reset(SafeFileHandle file, long length);

    /// <summary>Marks a new file sparse where the host needs that before holes can exist (NTFS); a no-op elsewhere.</summary>
    void MarkSparse(SafeFileHandle file);

    /// <summary>
    /// Reads from <paramref name="offset"/> what the host's cache holds, without waiting for the disk: the bytes read
    /// (fewer than asked when only the start is cached), 0 when none is cached or the host cannot tell.
    /// </summary>
    int ReadCached(SafeFileHandle file, Span<byte> buffer, long offset);

    /// <summary>
    /// Puts the file's written data on stable storage, with what is needed to read it back (its length, its block map)
    /// but not its timestamps (fdatasync); throws <see cref="IOException"/> when the host reports a failure.
    /// </summary>
    void SyncData(SafeFileHandle file, string name);

    /// <summary>
    /// Starts writing the file's dirty pages to storage without waiting for them and without making anything durable,
    /// so that a later <see cref="SyncData"/> finds little left to write. A hint: a host without it does nothing.
    /// </summary>
    void StartWriteBack(SafeFileHandle file);

    /// <summary>Bytes <paramref name="path"/> occupies on disk, or null when the host cannot say.</summary>
    long? AllocatedBytes(string path);

    /// <summary>
    /// Whether the file at <paramref name="offset"/> (inside the file) starts with data or a hole, and how long that
    /// extent is, at most <paramref name="maxLength"/>. A data extent may be reported past the end of the file (the
    /// caller clips it); a host that cannot tell reports data.
    /// </summary>
    FileExtent Extent(SafeFileHandle file, long offset, long maxLength);
}
