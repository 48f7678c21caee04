namespace Qcow2Mount.Core.Tools.Measure;

/// <summary>
/// qemu-img measure's answer: the file size the target needs for the source's data, the size when every cluster is
/// allocated, and (qcow2 v3 target, qcow2 v3 source) the space the source's persistent bitmaps would take.
/// </summary>
public sealed record MeasureResult(long Required, long FullyAllocated, long? Bitmaps);
