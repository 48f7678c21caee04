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
}
