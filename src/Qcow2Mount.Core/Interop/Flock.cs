using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

/// <summary><c>struct flock</c>: 32 bytes on x86_64 and aarch64 (short type, short whence, off_t start, off_t len, pid_t pid).</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
internal struct Flock
{
    public const short F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2;
    public const short SEEK_SET = 0;

    [FieldOffset(0)] public short Type;
    [FieldOffset(2)] public short Whence;
    [FieldOffset(8)] public long Start;
    [FieldOffset(16)] public long Length;
    [FieldOffset(24)] public int Pid;
}
