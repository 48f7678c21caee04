namespace Qcow2Mount.Core.Qcow2.Check;

/// <summary>
/// The outcome of a check (qemu-img's ImageCheck): leaks are refcounts higher than the references found (wasted
/// space), corruptions are refcounts that are too low or entries that break the spec, check errors mean the check
/// itself could not finish. With repair, the counts describe the image after the repair and the *Fixed counts
/// what was repaired.
/// </summary>
public sealed record CheckResult
{
    public required string Filename { get; init; }

    public string Format { get; init; } = "qcow2";

    public long Corruptions { get; init; }

    public long Leaks { get; init; }

    public long CheckErrors { get; init; }

    public long CorruptionsFixed { get; init; }

    public long LeaksFixed { get; init; }

    /// <summary>End of the last cluster in use (by refcount or by reference).</summary>
    public long ImageEndOffset { get; init; }

    /// <summary>Guest clusters of the virtual disk.</summary>
    public long TotalClusters { get; init; }

    /// <summary>Guest clusters with a host cluster in the active L1/L2 tables.</summary>
    public long AllocatedClusters { get; init; }

    public long FragmentedClusters { get; init; }

    public long CompressedClusters { get; init; }

    /// <summary>The check stopped before comparing everything: repairing would need a refcount rebuild that was not allowed (<c>-r leaks</c>).</summary>
    public bool Aborted { get; init; }

    /// <summary>qemu-img check's exit status: 0 clean, 1 check failed, 2 corruptions, 3 only leaks.</summary>
    public int ExitCode => CheckErrors > 0 ? 1 : Corruptions > 0 ? 2 : Leaks > 0 ? 3 : 0;
}
