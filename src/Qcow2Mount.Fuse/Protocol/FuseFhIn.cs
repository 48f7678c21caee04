using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Protocol;

/// <summary>The leading <c>fh</c> field of <c>fuse_flush_in</c>, <c>fuse_fsync_in</c> and <c>fuse_release_in</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FuseFhIn
{
    public ulong Fh;
}
