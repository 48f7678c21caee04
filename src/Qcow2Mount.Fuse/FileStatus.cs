using System.Runtime.InteropServices;
using Qcow2Mount.Fuse.Interop;

namespace Qcow2Mount.Fuse;

/// <summary>
/// The parts of stat(2) that .NET does not expose: the file type, the permission bits, the owner and the allocated
/// size. Needed to tell a character device from a file, to trust a pid-file directory, and for st_blocks.
/// </summary>
internal readonly record struct FileStatus(uint Mode, uint Uid, long AllocatedBytes)
{
    public const uint S_IFMT = 0xF000, S_IFDIR = 0x4000, S_IFREG = 0x8000, S_IFLNK = 0xA000, S_IFCHR = 0x2000;

    public uint Type => Mode & S_IFMT;

    /// <summary>The permission bits (07777).</summary>
    public uint Permissions => Mode & 0xFFF;

    /// <summary>
    /// stat(2) of <paramref name="path"/>, or lstat(2) when <paramref name="followLinks"/> is false. Returns 0, or the
    /// errno (ENOENT, EACCES, ENOTCONN for a FUSE mount whose server is gone, …).
    /// </summary>
    public static unsafe int Get(string path, bool followLinks, out FileStatus status)
    {
        var buffer = stackalloc byte[sizeof(StatX64)];
        status = default;
        if ((followLinks ? Libc.Stat(path, buffer) : Libc.LStat(path, buffer)) != 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        status = RuntimeInformation.ProcessArchitecture == Architecture.Arm64
            ? new FileStatus(((StatArm64*)buffer)->Mode, ((StatArm64*)buffer)->Uid, ((StatArm64*)buffer)->Blocks * 512)
            : new FileStatus(((StatX64*)buffer)->Mode, ((StatX64*)buffer)->Uid, ((StatX64*)buffer)->Blocks * 512);
        return 0;
    }

    /// <summary>True when <paramref name="path"/> exists and is a character device (following symlinks).</summary>
    public static bool IsCharacterDevice(string path) => Get(path, followLinks: true, out var status) == 0 && status.Type == S_IFCHR;
}
