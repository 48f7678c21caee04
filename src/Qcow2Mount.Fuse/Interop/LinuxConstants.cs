namespace Qcow2Mount.Fuse.Interop;

/// <summary>Open flags, file modes, fallocate modes and lseek whence values (fuse-notes §4).</summary>
internal static class LinuxConstants
{
    public const int O_ACCMODE = 3;
    public const int O_RDONLY = 0;
    public const int O_TRUNC = 0x200;

    public const uint S_IFDIR = 0x4000;
    public const uint S_IFREG = 0x8000;

    public const int FALLOC_FL_KEEP_SIZE = 0x1;
    public const int FALLOC_FL_PUNCH_HOLE = 0x2;
    public const int FALLOC_FL_ZERO_RANGE = 0x10;

    public const int SEEK_DATA = 3;
    public const int SEEK_HOLE = 4;
}
