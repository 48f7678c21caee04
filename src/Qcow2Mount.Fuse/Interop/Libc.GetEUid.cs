using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static partial class Libc
{
    [LibraryImport(LibraryName, EntryPoint = "geteuid")]
    public static partial uint GetEUid();
}
