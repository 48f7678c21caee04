namespace Qcow2Mount.Core.Vfs;

/// <summary>Times of a node that <see cref="IVirtualFileSystem.Touch"/> sets to now.</summary>
[Flags]
public enum TimeFields
{
    None = 0,
    Accessed = 1,
    Modified = 2,
    Changed = 4,
}
