namespace Qcow2Mount.Core.Errors;

/// <summary>
/// A write would change bytes of a shown file that are not the disk's: the footer of a fixed VHD view
/// (<see cref="Vfs.FixedVhdDisk"/>). The rest of the file stays writable (EPERM, STATUS_MEDIA_WRITE_PROTECTED).
/// </summary>
public sealed class ReadOnlyRegionException : VfsException
{
    public ReadOnlyRegionException(string name, long offset, long regionStart)
        : base($"{name}: write at {offset} refused: the bytes from {regionStart} on are the VHD footer, which is read-only")
    {
    }
}
