using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Qcow2Mount.Fuse.Tests.Support;

/// <summary>lseek(2) with SEEK_DATA/SEEK_HOLE and open(2) with O_DIRECT, which .NET does not expose.</summary>
internal static partial class Posix
{
    public const int SeekData = 3;
    public const int SeekHole = 4;

    private const int ReadWrite = 2;
    private const int CloseOnExec = 0x80000;

    /// <summary>Alignment O_DIRECT asks of buffers, offsets and lengths here (the page size).</summary>
    public const int DirectAlignment = 4096;

    /// <summary>Returns the offset, or −errno.</summary>
    public static long Seek(SafeFileHandle handle, long offset, int whence)
    {
        long result = LSeek(handle, offset, whence);
        return result >= 0 ? result : -Marshal.GetLastPInvokeError();
    }

    /// <summary>
    /// Opens <paramref name="path"/> read-write with O_DIRECT: no page cache, so every read and write reaches the FUSE
    /// server, and the kernel may send writes to one file in parallel (FOPEN_PARALLEL_DIRECT_WRITES).
    /// </summary>
    public static SafeFileHandle OpenDirect(string path)
    {
        int direct = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x10000 : 0x4000;
        int fd = Open(path, ReadWrite | direct | CloseOnExec);
        if (fd < 0)
        {
            throw new IOException($"open({path}, O_DIRECT) failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return new SafeFileHandle(fd, ownsHandle: true);
    }

    /// <summary>A buffer of <paramref name="length"/> bytes at a <see cref="DirectAlignment"/>-aligned address (pinned), for O_DIRECT.</summary>
    public static Memory<byte> DirectBuffer(int length)
    {
        var array = GC.AllocateArray<byte>(length + DirectAlignment, pinned: true);
        long address = Marshal.UnsafeAddrOfPinnedArrayElement(array, 0);
        int skip = (int)((DirectAlignment - (address % DirectAlignment)) % DirectAlignment);
        return array.AsMemory(skip, length);
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(SafeFileHandle fd, long offset, int whence);
}
