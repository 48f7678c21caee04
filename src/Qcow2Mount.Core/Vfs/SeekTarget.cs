namespace Qcow2Mount.Core.Vfs;

/// <summary>What <see cref="IVirtualFileSystem.Seek"/> looks for (SEEK_DATA, SEEK_HOLE).</summary>
public enum SeekTarget
{
    Data,
    Hole,
}
