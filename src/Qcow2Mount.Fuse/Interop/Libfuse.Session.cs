using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

/// <summary>High-level session functions (all <c>FUSE_3.0</c>, default version, plain names).</summary>
internal static unsafe partial class Libfuse
{
    /// <summary><c>int fuse_mount(struct fuse*, const char* mountpoint)</c>: 0 or -1.</summary>
    [LibraryImport(LibraryName, EntryPoint = "fuse_mount", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int FuseMount(nint fuse, string mountpoint);

    [LibraryImport(LibraryName, EntryPoint = "fuse_unmount")]
    public static partial void FuseUnmount(nint fuse);

    /// <summary>Calls the <c>destroy</c> operation, then frees the handle.</summary>
    [LibraryImport(LibraryName, EntryPoint = "fuse_destroy")]
    public static partial void FuseDestroy(nint fuse);

    /// <summary>Only sets a flag: the loop notices it at the next kernel request (fuse-notes §6).</summary>
    [LibraryImport(LibraryName, EntryPoint = "fuse_exit")]
    public static partial void FuseExit(nint fuse);

    /// <summary>Per-thread, valid only inside an operation.</summary>
    [LibraryImport(LibraryName, EntryPoint = "fuse_get_context")]
    public static partial FuseContext* FuseGetContext();

    [LibraryImport(LibraryName, EntryPoint = "fuse_opt_free_args")]
    public static partial void FuseOptFreeArgs(FuseArgs* args);
}
