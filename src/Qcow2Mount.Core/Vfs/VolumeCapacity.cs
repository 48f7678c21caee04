namespace Qcow2Mount.Core.Vfs;

/// <summary>
/// statfs / GetVolumeInfo: the raw files' sizes, each rounded up to <see cref="BlockSize"/>, and nothing free (a
/// file system of fixed-size files).
/// </summary>
public readonly record struct VolumeCapacity(long TotalBytes, int FileCount, int MaxNameLength)
{
    /// <summary>The block both shims report: FUSE's st_blksize and f_bsize (what loop devices and dd expect), WinFsp's allocation unit.</summary>
    public const int BlockSize = 4096;

    /// <summary>Longest name a mount may show (a component on Linux and Windows).</summary>
    public const int NameMax = 255;

    public static long RoundUp(long size) => (size + BlockSize - 1) / BlockSize * BlockSize;
}
