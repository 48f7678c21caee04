namespace Qcow2Mount.Core.Errors;

/// <summary>No internal snapshot matches the ID or name asked for.</summary>
public sealed class SnapshotNotFoundException : Qcow2Exception
{
    public SnapshotNotFoundException(string snapshot)
        : base($"snapshot '{snapshot}' not found")
    {
        Snapshot = snapshot;
    }

    public string Snapshot { get; }
}
