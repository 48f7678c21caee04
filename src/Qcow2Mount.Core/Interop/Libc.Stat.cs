using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

internal static partial class Libc
{
    /// <summary>
    /// <c>int stat(const char*, struct stat*)</c> (an exported symbol since glibc 2.33); <paramref name="buffer"/> must
    /// hold the architecture's struct (144 bytes at most). Read it through <see cref="FileStatus"/>.
    /// </summary>
    [LibraryImport(LibraryName, EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static unsafe partial int Stat(string path, void* buffer);
}
