using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Core.Interop;

/// <summary>
/// The one reading of <c>struct stat</c> (<see cref="StatX64"/> or <see cref="StatArm64"/>, by process architecture):
/// what .NET does not expose — the file's identity (st_dev, st_ino), type and permission bits, owner and allocated
/// size. Linux only; the engine falls back to .NET's view elsewhere.
/// </summary>
internal readonly record struct FileStatus(ulong Device, ulong Inode, uint Mode, uint Uid, long Size, long AllocatedBytes)
{
    public const uint S_IFMT = 0xF000, S_IFDIR = 0x4000, S_IFREG = 0x8000, S_IFLNK = 0xA000, S_IFCHR = 0x2000,
        S_IFBLK = 0x6000, S_IFIFO = 0x1000, S_IFSOCK = 0xC000;

    /// <summary>Bytes a stat buffer takes: the larger of the two layouts.</summary>
    private const int BufferSize = 144;

    public uint Type => Mode & S_IFMT;

    /// <summary>The permission bits (07777).</summary>
    public uint Permissions => Mode & 0xFFF;

    /// <summary>
    /// stat(2) of <paramref name="path"/>, or lstat(2) when <paramref name="followLinks"/> is false. Returns 0, or the
    /// errno (ENOENT, EACCES, ENOTCONN for a FUSE mount whose server is gone, …).
    /// </summary>
    public static unsafe int Get(string path, bool followLinks, out FileStatus status)
    {
        byte* buffer = stackalloc byte[BufferSize];
        status = default;
        if ((followLinks ? Libc.Stat(path, buffer) : Libc.LStat(path, buffer)) != 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        status = Read(buffer);
        return 0;
    }

    /// <summary>fstat(2) of an open file: 0, or the errno.</summary>
    public static unsafe int Get(SafeFileHandle handle, out FileStatus status)
    {
        byte* buffer = stackalloc byte[BufferSize];
        status = default;
        if (Libc.FStat(handle, buffer) != 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        status = Read(buffer);
        return 0;
    }

    /// <summary>True when <paramref name="path"/> exists and is a character device (following symlinks).</summary>
    public static bool IsCharacterDevice(string path) => Get(path, followLinks: true, out var status) == 0 && status.Type == S_IFCHR;

    private static unsafe FileStatus Read(byte* buffer)
    {
        if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64)
        {
            var a = (StatArm64*)buffer;
            return new FileStatus(a->Dev, a->Ino, a->Mode, a->Uid, a->Size, a->Blocks * 512);
        }

        var x = (StatX64*)buffer;
        return new FileStatus(x->Dev, x->Ino, x->Mode, x->Uid, x->Size, x->Blocks * 512);
    }
}
