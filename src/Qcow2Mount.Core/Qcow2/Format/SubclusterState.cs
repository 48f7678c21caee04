namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>What one subcluster is (spec §7 derived subcluster states; a standard cluster is one subcluster).</summary>
public enum SubclusterState : byte
{
    /// <summary>No host cluster: read from the backing file, or zeros.</summary>
    UnallocatedPlain,

    /// <summary>Host cluster reserved, this subcluster not allocated: read from the backing file, or zeros.</summary>
    UnallocatedAlloc,

    /// <summary>Reads as zeros, no host cluster.</summary>
    ZeroPlain,

    /// <summary>Reads as zeros, host cluster kept.</summary>
    ZeroAlloc,

    /// <summary>Data at the host cluster.</summary>
    Normal,

    /// <summary>Whole cluster compressed.</summary>
    Compressed,

    /// <summary>Contradictory bits: corruption.</summary>
    Invalid,
}

/// <summary>What a <see cref="SubclusterState"/> implies for reading it (the spec §7 table's last column).</summary>
public static class SubclusterStateExtensions
{
    public static bool ReadsAsZero(this SubclusterState s) => s is SubclusterState.ZeroPlain or SubclusterState.ZeroAlloc;

    public static bool IsUnallocated(this SubclusterState s) => s is SubclusterState.UnallocatedPlain or SubclusterState.UnallocatedAlloc;

    /// <summary>Falls through to the backing file.</summary>
    public static bool ReadsFromBacking(this SubclusterState s) => s.IsUnallocated();

    /// <summary>The subcluster has a host cluster behind it (its data, or space reserved for it).</summary>
    public static bool HasHostCluster(this SubclusterState s) =>
        s is SubclusterState.Normal or SubclusterState.ZeroAlloc or SubclusterState.UnallocatedAlloc;
}
