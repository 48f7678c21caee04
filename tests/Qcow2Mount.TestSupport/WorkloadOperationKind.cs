namespace Qcow2Mount.TestSupport;

/// <summary>What one step of a <see cref="RandomWorkload"/> does.</summary>
public enum WorkloadOperationKind
{
    Write,
    WriteZeroes,
    Discard,
    Flush,
}
