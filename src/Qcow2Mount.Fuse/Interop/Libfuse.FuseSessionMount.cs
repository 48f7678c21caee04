using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

internal static unsafe partial class Libfuse
{
    /// <summary><c>int fuse_session_mount(struct fuse_session*, const char* mountpoint)</c>: 0 or -1.</summary>
    [LibraryImport(LibraryName, EntryPoint = "fuse_session_mount", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int FuseSessionMount(nint session, string mountpoint);
}
