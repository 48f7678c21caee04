namespace Qcow2Mount.Core.Qcow2.Format;

/// <summary>
/// The one decoder from (L2 entry, subcluster index) to <see cref="SubclusterState"/> (spec §7 table; QEMU's
/// qcow2_get_subcluster_type). Nothing else interprets descriptor or bitmap bits.
/// </summary>
public static class SubclusterDecoder
{
    /// <param name="externalData">With an external data file, host offset 0 plus COPIED is an allocated cluster.</param>
    public static SubclusterState Decode(L2Entry entry, bool extendedL2, int subcluster, bool externalData = false)
    {
        if (entry.IsCompressed)
        {
            return SubclusterState.Compressed;
        }

        bool hasHost = entry.HostClusterOffset != 0 || (externalData && entry.IsCopied);
        if (!extendedL2)
        {
            if (entry.HasZeroFlag)
            {
                return hasHost ? SubclusterState.ZeroAlloc : SubclusterState.ZeroPlain;
            }

            return hasHost ? SubclusterState.Normal : SubclusterState.UnallocatedPlain;
        }

        uint alloc = entry.AllocationBits;
        uint zero = entry.ZeroBits;
        if (hasHost)
        {
            if ((alloc & zero) != 0)
            {
                return SubclusterState.Invalid;
            }
        }
        else if (alloc != 0)
        {
            return SubclusterState.Invalid;
        }

        uint bit = 1u << subcluster;
        if ((zero & bit) != 0)
        {
            return hasHost ? SubclusterState.ZeroAlloc : SubclusterState.ZeroPlain;
        }

        if ((alloc & bit) != 0)
        {
            return SubclusterState.Normal;
        }

        return hasHost ? SubclusterState.UnallocatedAlloc : SubclusterState.UnallocatedPlain;
    }

    /// <summary>True when the whole entry is contradictory (any subcluster would decode as Invalid).</summary>
    public static bool IsInvalid(L2Entry entry, bool extendedL2, bool externalData = false) =>
        Decode(entry, extendedL2, 0, externalData) == SubclusterState.Invalid
        || (extendedL2 && !entry.IsCompressed && Decode(entry, extendedL2, 31, externalData) == SubclusterState.Invalid);
}
