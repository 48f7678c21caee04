using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static partial class Libc
{
    /// <summary>umount2 flag: detach now, finish when the last user goes (lazy unmount).</summary>
    public const int MNT_DETACH = 2;

    /// <summary><c>int umount2(const char* target, int flags)</c>: root's unmount (a user goes through fusermount3).</summary>
    [LibraryImport(LibraryName, EntryPoint = "umount2", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Umount2(string target, int flags);
}
