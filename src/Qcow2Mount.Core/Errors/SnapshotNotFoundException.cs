namespace Qcow2Mount.Core.Errors;

/// <summary>No internal snapshot of the image matches the ID or name asked for.</summary>
public sealed class SnapshotNotFoundException : Qcow2Exception
{
    public SnapshotNotFoundException(string message)
        : base(message)
    {
    }
}
