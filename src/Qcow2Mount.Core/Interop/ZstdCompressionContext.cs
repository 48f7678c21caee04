using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

/// <summary>A <c>ZSTD_CCtx*</c>, freed with ZSTD_freeCCtx when released (or finalised after its thread ended).</summary>
internal sealed class ZstdCompressionContext : SafeHandle
{
    public ZstdCompressionContext()
        : base(IntPtr.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        Zstd.FreeCCtx(handle);
        return true;
    }
}
