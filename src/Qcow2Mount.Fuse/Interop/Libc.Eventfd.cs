using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static partial class Libc
{
    public const int O_NONBLOCK = 0x800;

    /// <summary>
    /// <c>int eventfd(unsigned int initval, int flags)</c>: a counter readable once it is not zero (a write of an
    /// 8-byte value adds to it). Flags are O_CLOEXEC and O_NONBLOCK. −1 with errno.
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int Eventfd(uint initialValue, int flags);
}
