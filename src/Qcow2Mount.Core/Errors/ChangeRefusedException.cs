using Qcow2Mount.Core.Vfs;

namespace Qcow2Mount.Core.Errors;

/// <summary>
/// The names, owners, permissions and label of a mount are fixed (one raw file per image, chosen at mount): creating,
/// deleting, renaming or changing them is refused. EPERM on FUSE; on Windows by <see cref="Change"/> (an existing
/// name to create: STATUS_OBJECT_NAME_COLLISION, a delete: STATUS_CANNOT_DELETE, else STATUS_ACCESS_DENIED).
/// </summary>
public sealed class ChangeRefusedException : VfsException
{
    public ChangeRefusedException(ChangeKind change, bool targetExists)
        : base($"{change}: the mount's names and attributes are fixed")
    {
        Change = change;
        TargetExists = targetExists;
    }

    public ChangeKind Change { get; }

    /// <summary>The name the change was about exists (for a create: it would collide).</summary>
    public bool TargetExists { get; }
}
