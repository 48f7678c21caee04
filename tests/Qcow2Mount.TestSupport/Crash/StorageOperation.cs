namespace Qcow2Mount.TestSupport.Crash;

/// <summary>
/// One state-changing call on one file, numbered in the order the engine issued it across all files of the log
/// (<see cref="Index"/>). <see cref="Data"/> is a copy of the written bytes (writes only).
/// </summary>
public sealed record StorageOperation(int Index, int File, StorageOperationKind Kind, long Offset, long Length, byte[]? Data)
{
    public override string ToString() => Kind switch
    {
        StorageOperationKind.Flush => $"#{Index} file {File} flush",
        StorageOperationKind.SetLength => $"#{Index} file {File} set length {Length}",
        _ => $"#{Index} file {File} {Kind} 0x{Offset:x}+{Length}",
    };
}
