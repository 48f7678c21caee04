using Qcow2Mount.Core.Interop;

namespace Qcow2Mount.Core.Storage;

/// <summary>What kind of file a path names (lstat-free: links are followed, as opening would).</summary>
internal static class FileKind
{
    public enum Kind
    {
        Missing,
        Regular,
        Directory,
        BlockDevice,
        CharacterDevice,
        Fifo,
        Socket,
        Other,
    }

    public static Kind Of(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return File.Exists(path) ? Kind.Regular : Directory.Exists(path) ? Kind.Directory : Kind.Missing;
        }

        if (FileStatus.Get(path, followLinks: true, out var status) != 0)
        {
            return Kind.Missing;
        }

        return status.Type switch
        {
            FileStatus.S_IFREG => Kind.Regular,
            FileStatus.S_IFDIR => Kind.Directory,
            FileStatus.S_IFBLK => Kind.BlockDevice,
            FileStatus.S_IFCHR => Kind.CharacterDevice,
            FileStatus.S_IFIFO => Kind.Fifo,
            FileStatus.S_IFSOCK => Kind.Socket,
            _ => Kind.Other,
        };
    }

    /// <summary>
    /// The kernel pseudo file system <paramref name="path"/> lives on ("procfs", "sysfs", …), or null for an
    /// ordinary one. Their files look regular to stat but are kernel state (/proc/self/environ, /proc/kcore,
    /// /sys/...): a hostile image must not be able to expose them as disk content.
    /// </summary>
    public static unsafe string? PseudoFileSystemOf(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        // struct statfs starts with f_type (a long) on every 64-bit Linux ABI.
        long* buffer = stackalloc long[32];
        if (Libc.StatFs(path, buffer) != 0)
        {
            return null;
        }

        long type = buffer[0];
        return type switch
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

    public static string Describe(Kind kind) => kind switch
    {
        Kind.BlockDevice => "block device",
        Kind.CharacterDevice => "character device",
        Kind.Fifo => "FIFO",
        Kind.Socket => "socket",
        Kind.Directory => "directory",
        Kind.Missing => "missing file",
        _ => "special file",
    };
}
