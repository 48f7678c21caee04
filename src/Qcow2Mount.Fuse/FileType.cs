using System.Runtime.InteropServices;
using Qcow2Mount.Fuse.Interop;

namespace Qcow2Mount.Fuse;

/// <summary>The file type bits of stat(2), which .NET does not expose (needed to tell a character device from a file).</summary>
internal static unsafe class FileType
{
    private const uint S_IFMT = 0xF000;
    private const uint S_IFCHR = 0x2000;

    /// <summary>True when <paramref name="path"/> exists and is a character device (following symlinks).</summary>
    public static bool IsCharacterDevice(string path)
    {
        var buffer = stackalloc byte[sizeof(StatX64)];
        if (Libc.Stat(path, buffer) != 0)
        {
            return false;
        }

        uint mode = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? ((StatArm64*)buffer)->Mode : ((StatX64*)buffer)->Mode;
        return (mode & S_IFMT) == S_IFCHR;
    }
}
