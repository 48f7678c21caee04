namespace Qcow2Mount.Core.Vfs;

/// <summary>
/// A request on the space of a range (fallocate). <see cref="KeepSize"/>: the part past the end of the disk is
/// ignored; without it a range past the end would grow the file and is refused.
/// </summary>
public readonly record struct SpaceRequest(SpaceOperation Operation, long Offset, long Length, bool KeepSize);
