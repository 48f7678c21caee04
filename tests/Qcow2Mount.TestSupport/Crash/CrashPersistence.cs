namespace Qcow2Mount.TestSupport.Crash;

/// <summary>Which of the operations issued since a file's last flush reached its disk before the power cut.</summary>
public enum CrashPersistence
{
    /// <summary>None: the file is as its last flush left it.</summary>
    NothingUnflushed,

    /// <summary>All of them, in order.</summary>
    EverythingIssued,

    /// <summary>The first n (a random n), in order: a crash earlier on, or a disk that writes in order.</summary>
    Prefix,

    /// <summary>A random subset, applied in issue order: what a disk that reorders its cache may have kept.</summary>
    RandomSubset,

    /// <summary>The subset whose bits are set in <see cref="CrashPlan.Seed"/> (used to try every subset of a few operations).</summary>
    Exact,
}
