namespace Qcow2Mount.Core.Platform;

/// <summary>A run of a host file that is all data or all hole (<see cref="IFileSpace.Extent"/>).</summary>
internal readonly record struct FileExtent(bool IsData, long Length);
