namespace Qcow2Mount.Core.Tools;

/// <summary>
/// The verdict of a compare and the lines qemu-img prints for it (without -q), in order. <see cref="BytesRead"/>
/// counts the guest bytes read from both images: what the walk could not decide from the allocation maps alone.
/// </summary>
public sealed record CompareResult(bool Identical, IReadOnlyList<string> Lines, long BytesRead);
