using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libfuse
{
    [LibraryImport(LibraryName, EntryPoint = "fuse_session_destroy")]
    public static partial void FuseSessionDestroy(nint session);
}
