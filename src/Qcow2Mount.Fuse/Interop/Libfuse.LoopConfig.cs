using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

/// <summary>The opaque <c>fuse_loop_config</c> of API 3.12 (all <c>FUSE_3.12</c>, the only version).</summary>
internal static partial class Libfuse
{
    [LibraryImport(LibraryName, EntryPoint = "fuse_loop_cfg_create")]
    public static partial nint FuseLoopCfgCreate();

    [LibraryImport(LibraryName, EntryPoint = "fuse_loop_cfg_destroy")]
    public static partial void FuseLoopCfgDestroy(nint config);

    [LibraryImport(LibraryName, EntryPoint = "fuse_loop_cfg_set_max_threads")]
    public static partial void FuseLoopCfgSetMaxThreads(nint config, uint value);
}
