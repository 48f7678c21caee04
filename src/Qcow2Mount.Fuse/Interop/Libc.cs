using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

/// <summary>The few libc functions the FUSE shim and the mount command need.</summary>
internal static partial class Libc
{
    private const string LibraryName = "libc";

    /// <summary>umount2 flag: detach now, finish when the last user goes (lazy unmount).</summary>
    public const int MNT_DETACH = 2;

    /// <summary><c>dlvsym</c> lives in libc.so.6 since glibc 2.34 (Debian 12: 2.36).</summary>
    [LibraryImport(LibraryName, EntryPoint = "dlvsym", StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint DlVSym(nint handle, string symbol, string version);

    [LibraryImport(LibraryName, EntryPoint = "umount2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Umount2(string target, int flags);

    [LibraryImport(LibraryName, EntryPoint = "geteuid")]
    public static partial uint GetEUid();

    [LibraryImport(LibraryName, EntryPoint = "getegid")]
    public static partial uint GetEGid();

    /// <summary>Starts a new session (no controlling terminal); fails only for a process group leader.</summary>
    [LibraryImport(LibraryName, EntryPoint = "setsid", SetLastError = true)]
    public static partial int SetSid();

    [LibraryImport(LibraryName, EntryPoint = "dup2", SetLastError = true)]
    public static partial int Dup2(int oldFd, int newFd);

    /// <summary><c>int stat(const char*, struct stat*)</c> (an exported symbol since glibc 2.33); the buffer must hold the architecture's struct.</summary>
    [LibraryImport(LibraryName, EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static unsafe partial int Stat(string path, void* buffer);
}
