namespace Qcow2Mount.Core.Vfs;

/// <summary>
/// What the shims report for a node, independent of stat or FILE_INFO. <see cref="Id"/> is the root's 1 or a file's
/// place in the directory plus 2 (FUSE's inode, Windows' index number). <see cref="Permissions"/> are POSIX
/// permission bits: the root 0755, a raw file 0600 — the mounting user's alone, as QEMU's FUSE export does — or 0400
/// on a read-only mount.
/// </summary>
public readonly record struct NodeInfo(ulong Id, bool IsDirectory, long Size, uint Permissions, bool IsReadOnly, NodeTimes Times);
