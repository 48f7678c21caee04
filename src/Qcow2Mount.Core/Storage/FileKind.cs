using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Storage;

/// <summary>What kind of file a path names (lstat-free: links are followed, as opening would).</summary>
internal static partial class FileKind
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

        // struct stat is 144 bytes on x86_64 and 128 on aarch64; st_mode sits at 24 and 16 respectively.
        Span<byte> buffer = stackalloc byte[256];
        if (Stat(path, ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            return Kind.Missing;
        }

        int modeOffset = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 16 : 24;
        uint mode = MemoryMarshal.Read<uint>(buffer[modeOffset..]) & 0xF000;
        return mode switch
        {
            0x8000 => Kind.Regular,
            0x4000 => Kind.Directory,
            0x6000 => Kind.BlockDevice,
            0x2000 => Kind.CharacterDevice,
            0x1000 => Kind.Fifo,
            0xC000 => Kind.Socket,
            _ => Kind.Other,
        };
    }

    /// <summary>
    /// The kernel pseudo file system <paramref name="path"/> lives on ("procfs", "sysfs", …), or null for an
    /// ordinary one. Their files look regular to stat but are kernel state (/proc/self/environ, /proc/kcore,
    /// /sys/...): a hostile image must not be able to expose them as disk content.
    /// </summary>
    public static string? PseudoFileSystemOf(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        // struct statfs starts with f_type (a long) on every 64-bit Linux ABI.
        Span<byte> buffer = stackalloc byte[256];
        if (StatFs(path, ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            return null;
        }

        long type = MemoryMarshal.Read<long>(buffer);
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

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Stat(string path, ref byte buffer);

    [LibraryImport("libc", EntryPoint = "statfs", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int StatFs(string path, ref byte buffer);
}
