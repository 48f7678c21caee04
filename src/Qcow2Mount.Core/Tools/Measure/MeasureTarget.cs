namespace Qcow2Mount.Core.Tools.Measure;

/// <summary>How the measured target would be created (qemu-img measure's -O and -o).</summary>
public sealed record MeasureTarget
{
    /// <summary>"qcow2" or "raw".</summary>
    public string Format { get; init; } = "raw";

    public int ClusterSize { get; init; } = 65536;

    public bool ExtendedL2 { get; init; }

    public int RefcountBits { get; init; } = 16;

    /// <summary>2 (compat=0.10) or 3 (compat=1.1): persistent bitmaps need 3.</summary>
    public int Version { get; init; } = 3;

    /// <summary>The target would get a backing file: every cluster may have to be written.</summary>
    public bool HasBackingFile { get; init; }

    /// <summary>preallocation=falloc or full: the data clusters take space from the start.</summary>
    public bool PreallocateData { get; init; }
}
