namespace Qcow2Mount.Core.Vfs;

/// <summary>Changes to a mount's names and attributes, all refused (<see cref="IVirtualFileSystem.RefusalOf"/>).</summary>
public enum ChangeKind
{
    /// <summary>A new file, directory, node or link.</summary>
    Create,

    /// <summary>Unlink, rmdir, delete-on-close.</summary>
    Delete,

    Rename,

    /// <summary>Owner, group, permission bits or security descriptor.</summary>
    Attributes,

    VolumeLabel,
}
