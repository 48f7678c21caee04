namespace Qcow2Mount.Core.Errors;

/// <summary>No internal snapshot of the image matches the ID or name asked for.</summary>
public sealed class SnapshotNotFoundException : Qcow2Exception
{
    /// <summary>qemu-img's wording: <c>snapshot 'NAME' not found</c> (the snapshot verb).</summary>
    public SnapshotNotFoundException(string snapshot)
        : this(snapshot, $"snapshot '{snapshot}' not found")
    {
    }

    /// <summary>A message of the caller's (opening a snapshot view names the image and how to list its snapshots).</summary>
    public SnapshotNotFoundException(string snapshot, string message)
        : base(message)
    {
        Snapshot = snapshot;
    }

    /// <summary>The ID or name that matched nothing.</summary>
    public string Snapshot { get; }
}
