using Microsoft.Win32.SafeHandles;
using Qcow2Mount.Core;

namespace Qcow2Mount.TestSupport;

/// <summary>Compares a virtual disk's guest content with a raw file, reading in odd-sized chunks so reads straddle cluster boundaries.</summary>
public static class DiskContent
{
    /// <summary>Empty when <paramref name="disk"/> reads exactly like the raw file over the range; else where they first differ.</summary>
    public static string DescribeDifference(IVirtualDisk disk, string rawPath, long offset = 0, long? length = null, int chunkSize = (1 << 20) + 4097)
    {
        using SafeFileHandle raw = File.OpenHandle(rawPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        long end = offset + (length ?? RandomAccess.GetLength(raw) - offset);
        var expected = new byte[chunkSize];
        var actual = new byte[chunkSize];
        for (long at = offset; at < end; at += chunkSize)
        {
            int n = (int)Math.Min(chunkSize, end - at);
            int e = ReadFully(raw, expected.AsSpan(0, n), at);
            int a = disk.Read(at, actual.AsSpan(0, n));
            if (a != n || e != n)
            {
                return $"short read at {at}: disk returned {a} bytes, raw file {e}, wanted {n}";
            }

            string difference = Checksum.DescribeDifference(expected.AsSpan(0, n), actual.AsSpan(0, n), at);
            if (difference.Length > 0)
            {
                return difference;
            }
        }

        return string.Empty;
    }

    /// <summary>Reads <paramref name="buffer"/>.Length bytes of a file at <paramref name="offset"/> (fewer only at its end).</summary>
    public static int ReadFully(SafeFileHandle file, Span<byte> buffer, long offset)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = RandomAccess.Read(file, buffer[total..], offset + total);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }
}
