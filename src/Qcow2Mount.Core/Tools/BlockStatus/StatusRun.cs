namespace Qcow2Mount.Core.Tools.BlockStatus;

/// <summary>A run of guest bytes with one status; <see cref="Depth"/> is the chain layer that decided it (0 = the image itself).</summary>
internal readonly record struct StatusRun(QemuStatus Flags, long Length, int Depth)
{
    public bool IsZero => (Flags & QemuStatus.Zero) != 0;

    public bool IsAllocated => (Flags & QemuStatus.Allocated) != 0;

    public bool IsData => (Flags & QemuStatus.Data) != 0;
}
