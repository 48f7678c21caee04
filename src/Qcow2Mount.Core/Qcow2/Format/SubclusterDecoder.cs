using System.Numerics;

namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>
/// The one decoder from (L2 entry, subcluster index) to <see cref="SubclusterState"/> (spec §7 table; QEMU's
/// qcow2_get_subcluster_type). Nothing else interprets descriptor or bitmap bits: whether an entry has a host
/// cluster, whether it is contradictory, and how far a run of one state reaches inside a cluster are all answered
/// here. "Allocated and zero at once" on an allocated cluster, and any allocation bit on a cluster without a host
/// cluster, make the whole entry <see cref="SubclusterState.Invalid"/>.
/// </summary>
public static class SubclusterDecoder
{
    /// <summary>
    /// The host cluster rule: a standard (not compressed) entry with a host offset, or, with an external data file,
    /// with COPIED set (host offset 0 is then the first guest cluster).
    /// </summary>
    public static bool HasHostCluster(L2Entry entry, bool externalData) =>
        !entry.IsCompressed && (entry.HostClusterOffset.Value != 0 || (externalData && entry.IsCopied));

    /// <param name="externalData">With an external data file, host offset 0 plus COPIED is an allocated cluster.</param>
    public static SubclusterState Decode(L2Entry entry, bool extendedL2, int subcluster, bool externalData = false) =>
        DecodeRun(entry, extendedL2, subcluster, externalData, out _);

    /// <summary>
    /// The state of <paramref name="subcluster"/> and the end (exclusive, in subclusters) of the run of subclusters
    /// from it that share that state: one bit scan over the entry's allocation or zero mask, not one decode per
    /// subcluster. A standard entry is one subcluster; compressed and invalid entries are one run to the cluster's end.
    /// </summary>
    public static SubclusterState DecodeRun(L2Entry entry, bool extendedL2, int subcluster, bool externalData, out int end)
    {
        if (entry.IsCompressed)
        {
            end = extendedL2 ? 32 : 1;
            return SubclusterState.Compressed;
        }

        bool hasHost = HasHostCluster(entry, externalData);
        if (!extendedL2)
        {
            end = 1;
            if (entry.HasZeroFlag)
            {
                return hasHost ? SubclusterState.ZeroAlloc : SubclusterState.ZeroPlain;
            }

            return hasHost ? SubclusterState.Normal : SubclusterState.UnallocatedPlain;
        }

        uint alloc = entry.AllocationBits;
        uint zero = entry.ZeroBits;
        if (hasHost ? (alloc & zero) != 0 : alloc != 0)
        {
            end = 32;
            return SubclusterState.Invalid;
        }

        uint bit = 1u << subcluster;
        uint members;
        SubclusterState state;
        if ((zero & bit) != 0)
        {
            members = zero;
            state = hasHost ? SubclusterState.ZeroAlloc : SubclusterState.ZeroPlain;
        }
        else if ((alloc & bit) != 0)
        {
            members = alloc;
            state = SubclusterState.Normal;
        }
        else
        {
            members = ~(alloc | zero);
            state = hasHost ? SubclusterState.UnallocatedAlloc : SubclusterState.UnallocatedPlain;
        }

        // The run ends at the first subcluster from here that is not a member (bits shifted in above 31 are not).
        end = subcluster + BitOperations.TrailingZeroCount(~(members >> subcluster));
        return state;
    }

    /// <summary>True when the whole entry is contradictory (every subcluster decodes as Invalid).</summary>
    public static bool IsInvalid(L2Entry entry, bool extendedL2, bool externalData = false) =>
        Decode(entry, extendedL2, 0, externalData) == SubclusterState.Invalid;

    /// <summary>
    /// The first and last subcluster whose data is in the host cluster (allocation bits of an extended entry with a
    /// host cluster; a whole standard data cluster is subcluster 0); false when none is.
    /// </summary>
    public static bool TryGetAllocatedSpan(L2Entry entry, bool extendedL2, bool externalData, out int first, out int last)
    {
        first = last = 0;
        if (!HasHostCluster(entry, externalData))
        {
            return false;
        }

        if (!extendedL2)
        {
            return !entry.HasZeroFlag;
        }

        uint alloc = entry.AllocationBits;
        if (alloc == 0)
        {
            return false;
        }

        first = BitOperations.TrailingZeroCount(alloc);
        last = 31 - BitOperations.LeadingZeroCount(alloc);
        return true;
    }
}
