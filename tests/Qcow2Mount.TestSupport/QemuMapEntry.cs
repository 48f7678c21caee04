namespace Qcow2Mount.TestSupport;

/// <summary>One run of <c>qemu-img map --output=json</c>: <see cref="Data"/> means stored data somewhere in the chain, <see cref="Zero"/> reads as zeros.</summary>
public sealed record QemuMapEntry(long Start, long Length, int Depth, bool Present, bool Zero, bool Data, long? Offset)
{
    public long End => Start + Length;
}
