using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

internal static partial class Libc
{
    /// <summary><c>int lstat(const char*, struct stat*)</c>: like <see cref="Stat"/>, but about a symbolic link itself.</summary>
    [LibraryImport(LibraryName, EntryPoint = "lstat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static unsafe partial int LStat(string path, void* buffer);
}
