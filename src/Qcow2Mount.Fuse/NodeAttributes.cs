namespace Qcow2Mount.Fuse;

/// <summary>What <c>getattr</c> reports for the root directory or one raw file, independent of the native stat layout.</summary>
internal readonly record struct NodeAttributes(uint Mode, uint LinkCount, long Size, DateTime ModifiedUtc, ulong Inode);
