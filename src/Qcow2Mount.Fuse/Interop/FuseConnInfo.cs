using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

/// <summary><c>struct fuse_conn_info</c> of libfuse 3.14 (128 bytes, all unsigned); only the fields we read or set are named.</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct FuseConnInfo
{
    /// <summary>FUSE_CAP_WRITEBACK_CACHE: must stay off for an image (errors must reach the writer).</summary>
    public const uint CapWritebackCache = 0x10000;

    [FieldOffset(0)] public uint ProtoMajor;
    [FieldOffset(4)] public uint ProtoMinor;
    [FieldOffset(8)] public uint MaxWrite;
    [FieldOffset(12)] public uint MaxRead;
    [FieldOffset(16)] public uint MaxReadahead;
    [FieldOffset(20)] public uint Capable;
    [FieldOffset(24)] public uint Want;
}
