namespace Qcow2Mount.Core.Tools;

/// <summary>The verdict of a compare and the lines qemu-img prints for it (without -q), in order.</summary>
public sealed record CompareResult(bool Identical, IReadOnlyList<string> Lines);
