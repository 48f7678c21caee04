using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core.Interop;
using Qcow2Mount.Core.Storage;

namespace Qcow2Mount.Core.Platform;

/// <summary>Linux: stat(2) for identity (st_dev, st_ino) and kind (st_mode), statfs(2) for kernel pseudo file systems.</summary>
internal sealed class LinuxFileProbe : IFileProbe
{
    public FileIdentity? Identity(string path) =>
        FileStatus.Get(path, followLinks: true, out var status) == 0 ? new FileIdentity(status.Device, status.Inode, null) : null;

    public FileIdentity Identity(SafeFileHandle file, string path)
    {
        int errno = FileStatus.Get(file, out var status);
        if (errno != 0)
        {
            throw new IOException($"{path}: cannot stat the open file: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        return new FileIdentity(status.Device, status.Inode, null);
    }

    public FileKind.Kind KindOf(string path)
    {
        if (FileStatus.Get(path, followLinks: true, out var status) != 0)
        {
            return FileKind.Kind.Missing;
        }

        return status.Type switch
        {
            FileStatus.S_IFREG => FileKind.Kind.Regular,
            FileStatus.S_IFDIR => FileKind.Kind.Directory,
            FileStatus.S_IFBLK => FileKind.Kind.BlockDevice,
            FileStatus.S_IFCHR => FileKind.Kind.CharacterDevice,
            FileStatus.S_IFIFO => FileKind.Kind.Fifo,
            FileStatus.S_IFSOCK => FileKind.Kind.Socket,
            _ => FileKind.Kind.Other,
        };
    }

    public unsafe string? PseudoFileSystemOf(string path)
    {
        // struct statfs starts with f_type (a long) on every 64-bit Linux ABI; 256 bytes hold all of it.
        long* buffer = stackalloc long[32];
        if (Libc.StatFs(path, buffer) != 0)
        {
            return null;
        }

        return buffer[0] switch
        {
            0x9FA0 => "procfs",
            0x62656572 => "sysfs",
            0x64626720 => "debugfs",
            0x74726163 => "tracefs",
            0x73636673 => "securityfs",
            0x27E0EB => "cgroupfs",
            0x63677270 => "cgroup2fs",
            0x62656570 => "configfs",
            0xDE5E81E4 => "efivarfs",
            0xCAFE4A11 => "bpffs",
            _ => null,
        };
    }
}
