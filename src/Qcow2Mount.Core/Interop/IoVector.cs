using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

/// <summary><c>struct iovec</c>: a buffer's address and length.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoVector
{
    public void* Base;
    public nuint Length;
}
