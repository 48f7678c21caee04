namespace Qcow2Mount.Core.Qcow2.Check;

/// <summary>What <see cref="RefcountRebuilder.Rebuild"/> did, and what is still wrong afterwards.</summary>
public sealed record RepairResult(long LeaksFixed, long CorruptionsFixed, long RemainingCorruptions, long RemainingLeaks)
{
    /// <summary>True when the image is consistent now (dirty and corrupt bits cleared).</summary>
    public bool IsClean => RemainingCorruptions == 0 && RemainingLeaks == 0;
}
