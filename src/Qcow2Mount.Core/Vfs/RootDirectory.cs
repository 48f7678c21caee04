namespace Qcow2Mount.Core.Vfs;

/// <summary>The mount's root: the directory holding the raw files. Its times start when the mount is made.</summary>
public sealed class RootDirectory : VfsNode
{
    internal RootDirectory(DateTime createdUtc)
        : base(1, string.Empty, new NodeTimes(createdUtc, createdUtc, createdUtc, createdUtc))
    {
    }

    public override bool IsDirectory => true;
}
