namespace Qcow2Mount.TestSupport.Crash;

/// <summary>
/// A guest-visible change a workload made, with the storage-log index at which it started (<see cref="StartIndex"/>).
/// <see cref="Data"/> null means the range reads as zeros afterwards (zero write, discard, or the part a shrink cut
/// off); <see cref="NewSize"/> is set for a resize.
/// </summary>
public sealed record GuestOperation(int StartIndex, long Offset, long Length, byte[]? Data, long? NewSize = null)
{
    public byte ValueAt(long position) => Data is null ? (byte)0 : Data[position - Offset];

    public bool Covers(long position) => position >= Offset && position < Offset + Length;

    public override string ToString() =>
        NewSize is long size ? $"resize to {size} (from log #{StartIndex})"
        : $"{(Data is null ? "zero" : "write")} 0x{Offset:x}+{Length} (from log #{StartIndex})";
}
