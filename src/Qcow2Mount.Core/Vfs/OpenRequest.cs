namespace Qcow2Mount.Core.Vfs;

/// <summary>
/// An open as the rules see it: whether it may write the file's data, whether it truncates (O_TRUNC), and which kind
/// of node the caller expects (FUSE's OPEN expects a file; Windows' create options may ask for either).
/// </summary>
public readonly record struct OpenRequest(bool Write, bool Truncate = false, NodeKind Expect = NodeKind.Any);
