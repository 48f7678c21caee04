using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static partial class Libc
{
    /// <summary>statx dirfd: paths are relative to the working directory.</summary>
    public const int AT_FDCWD = -100;

    /// <summary>statx flag: do not follow a final symbolic link.</summary>
    public const int AT_SYMLINK_NOFOLLOW = 0x100;

    /// <summary>statx flag: answer from what the kernel holds; a FUSE file system is not asked.</summary>
    public const int AT_STATX_DONT_SYNC = 0x4000;

    /// <summary>statx mask bit of <see cref="StatxData.MountId"/>.</summary>
    public const uint STATX_MNT_ID = 0x1000;

    /// <summary><c>int statx(int dirfd, const char* path, int flags, unsigned int mask, struct statx* buf)</c>.</summary>
    [LibraryImport(LibraryName, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, StatxData* buffer);
}
