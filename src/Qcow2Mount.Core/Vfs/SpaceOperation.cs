namespace Qcow2Mount.Core.Vfs;

/// <summary>What a <see cref="SpaceRequest"/> does to a range of a raw file.</summary>
public enum SpaceOperation
{
    /// <summary>Reserve space (plain fallocate): refused, as on a block device — clusters come from the host file system when written, so nothing can be promised.</summary>
    Reserve,

    /// <summary>Make the range read as zeros, keeping its clusters allocated (FALLOC_FL_ZERO_RANGE).</summary>
    Zero,

    /// <summary>Make the range read as zeros and let whole clusters be deallocated (FALLOC_FL_PUNCH_HOLE, TRIM).</summary>
    PunchHole,
}
