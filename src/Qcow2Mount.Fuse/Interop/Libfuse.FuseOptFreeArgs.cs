using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libfuse
{
    [LibraryImport(LibraryName, EntryPoint = "fuse_opt_free_args")]
    public static partial void FuseOptFreeArgs(FuseArgs* args);
}
