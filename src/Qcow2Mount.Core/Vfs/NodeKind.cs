namespace Qcow2Mount.Core.Vfs;

/// <summary>What an open expects to name: anything, a raw file, or the directory.</summary>
public enum NodeKind
{
    Any,
    File,
    Directory,
}
