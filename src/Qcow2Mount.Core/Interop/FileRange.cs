using System.Runtime.InteropServices;

namespace Qcow2Mount.Core.Interop;

/// <summary>
/// Two LARGE_INTEGERs (winioctl.h, 16 bytes): <c>FILE_ZERO_DATA_INFORMATION</c> {FileOffset, BeyondFinalZero} for
/// FSCTL_SET_ZERO_DATA (Second = end, exclusive) and <c>FILE_ALLOCATED_RANGE_BUFFER</c> {FileOffset, Length} for
/// FSCTL_QUERY_ALLOCATED_RANGES (Second = length). The two structs have the same layout; the request says which.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct FileRange
{
    public long Offset;
    public long Second;
}
