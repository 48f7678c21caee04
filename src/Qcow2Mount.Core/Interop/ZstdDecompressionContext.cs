using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

/// <summary>A <c>ZSTD_DCtx*</c> (also a ZSTD_DStream*), freed with ZSTD_freeDCtx when released (or finalised after its thread ended).</summary>
internal sealed class ZstdDecompressionContext : SafeHandle
{
    public ZstdDecompressionContext()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        Zstd.FreeDCtx(handle);
        return true;
    }
}
