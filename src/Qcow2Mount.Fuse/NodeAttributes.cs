namespace Qcow2Mount.Fuse;

/// <summary>
/// What <c>getattr</c> reports for the root directory or one raw file, independent of the native stat layout.
/// <see cref="AllocatedBytes"/> is what the image really takes on its host file system (st_blocks × 512).
/// </summary>
internal readonly record struct NodeAttributes(
    uint Mode, uint LinkCount, long Size, long AllocatedBytes, DateTime AccessedUtc, DateTime ModifiedUtc, DateTime ChangedUtc, ulong Inode);
