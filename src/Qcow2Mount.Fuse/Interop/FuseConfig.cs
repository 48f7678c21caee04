using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

/// <summary><c>struct fuse_config</c> (128 bytes); only the fields we set in <c>init</c> are named.</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct FuseConfig
{
    [FieldOffset(24)] public double EntryTimeout;
    [FieldOffset(40)] public double AttrTimeout;
    [FieldOffset(64)] public int UseIno;
    [FieldOffset(72)] public int DirectIo;
    [FieldOffset(76)] public int KernelCache;
    [FieldOffset(104)] public int NullPathOk;
}
