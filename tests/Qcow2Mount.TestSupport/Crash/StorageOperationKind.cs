namespace Qcow2Mount.TestSupport.Crash;

/// <summary>The calls on an <see cref="Core.Storage.IBlockDevice"/> that change what a power cut can leave on disk.</summary>
public enum StorageOperationKind
{
    /// <summary>pwrite: <see cref="StorageOperation.Data"/> at <see cref="StorageOperation.Offset"/>.</summary>
    Write,

    /// <summary>ftruncate to <see cref="StorageOperation.Length"/>.</summary>
    SetLength,

    /// <summary>fallocate PUNCH_HOLE|KEEP_SIZE: the range reads as zeros, the length stays.</summary>
    PunchHole,

    /// <summary>fallocate ZERO_RANGE (only when the device did it): the range reads as zeros, the file grows to cover it.</summary>
    ZeroRange,

    /// <summary>fdatasync: everything issued to this file before it is on stable storage.</summary>
    Flush,
}
