using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using NUnit.Framework;

namespace Qcow2Mount.TestSupport;

/// <summary>The kernel's own page cache counters of a file, from cachestat(2) (Linux 6.5+).</summary>
public static partial class PageCache
{
    /// <summary>Pages of [0, <paramref name="length"/>) of the file that are in the page cache and dirty.</summary>
    public static unsafe long DirtyPages(SafeFileHandle file, long length)
    {
        const long SYS_cachestat = 451; // the same number on x86-64 and arm64
        var range = new CacheStatRange { Offset = 0, Length = (ulong)length };
        var stat = default(CacheStat);
        long result = Syscall(SYS_cachestat, file.DangerousGetHandle(), (nint)(&range), (nint)(&stat), 0);
        Assert.That(result, Is.Zero, $"cachestat failed: errno {Marshal.GetLastPInvokeError()}");
        return (long)stat.Dirty;
    }

    /// <summary>Dirty pages of the whole file at <paramref name="path"/> (any descriptor sees the same cache).</summary>
    public static long DirtyPages(string path)
    {
        using var file = File.OpenHandle(path);
        return DirtyPages(file, RandomAccess.GetLength(file));
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall(long number, nint fd, nint range, nint stat, uint flags);

    [StructLayout(LayoutKind.Sequential)]
    private struct CacheStatRange
    {
        public ulong Offset;
        public ulong Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct CacheStat
    {
        public ulong Cache;
        public ulong Dirty;
        public ulong Writeback;
        public ulong Evicted;
        public ulong RecentlyEvicted;
    }
}
