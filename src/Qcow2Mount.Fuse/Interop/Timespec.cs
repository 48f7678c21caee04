using System.Runtime.InteropServices;

namespace Qcow2Mount.Fuse.Interop;

/// <summary><c>struct timespec</c> (16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Timespec
{
    public long Seconds;
    public long Nanoseconds;

    /// <summary>Seconds and nanoseconds since the epoch as UTC (to 100 ns, .NET's resolution).</summary>
    public static DateTime ToUtc(long seconds, uint nanoseconds) =>
        DateTime.UnixEpoch.AddTicks((Math.Clamp(seconds, -62135596800L, 253402300799L) * TimeSpan.TicksPerSecond) + (Math.Min(nanoseconds, 999_999_999u) / 100));

    public static Timespec FromUtc(DateTime utc)
    {
        long ticks = utc.Ticks - DateTime.UnixEpoch.Ticks;
        return new Timespec
        {
            Seconds = ticks / TimeSpan.TicksPerSecond,
            Nanoseconds = ticks % TimeSpan.TicksPerSecond * 100,
        };
    }
}
