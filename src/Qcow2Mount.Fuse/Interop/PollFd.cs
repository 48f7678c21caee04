using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

/// <summary><c>struct pollfd</c> (8 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    public int Fd;
    public short Events;
    public short Revents;
}
